import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { makeTempDir, removeOrphanTempDirs } from './tempDirs.ts';
import { checkKey, type LocalDir, type LocalFile, type SpoolDir, type Storage, type StoredObject } from './Storage.ts';

export interface S3StorageOptions {
  /** e.g. https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:7480 (Ceph RGW), a MinIO or R2 URL. */
  endpoint: string;
  region: string;
  bucket: string;
  /** Every key is stored under this prefix (several deployments may share a bucket); '' for none. */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (`endpoint/bucket/key`): needed for RGW, MinIO and IP endpoints. */
  forcePathStyle: boolean;
  /** A request that takes longer fails (the endpoint is down or unreachable). Default 30 s. */
  requestTimeoutMs?: number;
}

/** Files at least this large are uploaded in parts (several at once). */
const MULTIPART_BYTES = 16 << 20;

/**
 * The storage port on the S3 API (`@aws-sdk/client-s3`): AWS S3, Ceph RGW, MinIO, R2. One
 * object per key, under `prefix`. Choices, each for a reason:
 * - Checksums only when required (`WHEN_REQUIRED`): newer SDKs send streamed bodies as
 *   `aws-chunked` with trailing checksums, which RGW 16 refuses; every upload is verified
 *   instead by comparing the stored size (HeadObject) with the local one.
 * - Large files go up in parts (lib-storage's Upload, 16 MiB parts); an object appears whole
 *   or not at all, so writes are atomic as the port requires.
 * - A missing object answers ENOENT like a missing file, so callers need not know the backend.
 * - `localFile` downloads into a temporary file; `localDir` is a temporary directory, filled
 *   with what is stored under its prefix, whose new or changed files `commit()` uploads.
 *   Temporary directories carry their process's id (tempDirs.ts): the first one a process
 *   makes removes those of processes that died without releasing theirs.
 */
export class S3Storage implements Storage {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  #orphansRemoved: Promise<void> | undefined;

  constructor(o: S3StorageOptions) {
    this.#s3 = new S3Client({
      endpoint: o.endpoint,
      region: o.region,
      forcePathStyle: o.forcePathStyle,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { requestTimeout: o.requestTimeoutMs ?? 30_000, connectionTimeout: Math.min(o.requestTimeoutMs ?? 30_000, 5000) },
    });
    this.#bucket = o.bucket;
    this.#prefix = o.prefix === '' ? '' : `${checkKey(o.prefix)}/`;
  }

  /** Creates the bucket when it does not exist; throws with the reason when it cannot be used. */
  async ensureBucket(): Promise<void> {
    try {
      await this.#s3.send(new HeadBucketCommand({ Bucket: this.#bucket }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw storageError(`the bucket "${this.#bucket}" cannot be used`, err);
    }
    try {
      await this.#s3.send(new CreateBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      throw storageError(`the bucket "${this.#bucket}" does not exist and cannot be created`, err);
    }
  }

  close(): void {
    this.#s3.destroy();
  }

  async stat(key: string): Promise<StoredObject | null> {
    const k = this.#key(key);
    try {
      const head = await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: k }));
      return { sizeBytes: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storageError(`could not stat ${key}`, err);
    }
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const k = this.#key(key);
    try {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: k, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      if (!(res.Body instanceof Readable)) throw new Error('the S3 client gave no stream');
      return res.Body;
    } catch (err) {
      if (isNotFound(err)) throw enoent(key);
      throw storageError(`could not read ${key}`, err);
    }
  }

  async readFile(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.createReadStream(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async writeFile(key: string, data: string | Uint8Array): Promise<void> {
    const k = this.#key(key);
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      await this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: k, Body: body, ContentLength: body.byteLength }));
    } catch (err) {
      throw storageError(`could not write ${key}`, err);
    }
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const k = this.#key(key);
    await this.#upload(k, localPath);
    await unlink(localPath);
  }

  async list(prefix: string): Promise<string[]> {
    const p = `${this.#key(prefix)}/`;
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#s3.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: p, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key.slice(this.#prefix.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw storageError(`could not list ${prefix}`, err);
    }
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    const keys = await this.list(prefix);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => ({ Key: this.#prefix + k }));
      try {
        const res = await this.#s3.send(new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch, Quiet: true } }));
        if (res.Errors?.length) throw new Error(res.Errors.map((e) => `${e.Key}: ${e.Code}`).join(', '));
      } catch (err) {
        throw storageError(`could not delete ${prefix}`, err);
      }
    }
  }

  async localFile(key: string): Promise<LocalFile> {
    checkKey(key);
    const dir = await this.#tempDir('file');
    const file = path.join(dir, path.basename(key));
    const release = once(() => rm(dir, { recursive: true, force: true }));
    try {
      await pipeline(await this.createReadStream(key), createWriteStream(file));
    } catch (err) {
      // An absent object: the path does not exist, which callers read as "absent".
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        await release();
        throw err;
      }
    }
    return { path: file, release };
  }

  async localDir(prefix: string): Promise<LocalDir> {
    checkKey(prefix);
    const dir = await this.#tempDir('dir');
    const release = once(() => rm(dir, { recursive: true, force: true }));
    // What is stored already, with the size it had: commit() uploads only what is new or changed.
    const stored = new Map<string, number>();
    try {
      for (const key of await this.list(prefix)) {
        const local = path.join(dir, ...key.slice(prefix.length + 1).split('/'));
        await mkdir(path.dirname(local), { recursive: true });
        await pipeline(await this.createReadStream(key), createWriteStream(local));
        stored.set(local, (await stat(local)).mtimeMs);
      }
    } catch (err) {
      await release();
      throw err;
    }
    return {
      path: dir,
      // May run more than once (a preview, then the whole): each run uploads what changed since.
      commit: async () => {
        for (const local of await filesUnder(dir)) {
          const mtimeMs = (await stat(local)).mtimeMs;
          if (stored.get(local) === mtimeMs) continue;
          const key = `${prefix}/${path.relative(dir, local).split(path.sep).join('/')}`;
          await this.#upload(this.#key(key), local);
          stored.set(local, mtimeMs);
        }
      },
      release,
    };
  }

  async spoolDir(prefix: string): Promise<SpoolDir> {
    checkKey(prefix);
    const dir = await this.#tempDir('spool');
    return {
      path: dir,
      store: (name) => this.putFile(`${prefix}/${name}`, path.join(dir, ...name.split('/'))),
      release: once(() => rm(dir, { recursive: true, force: true })),
    };
  }

  /** Uploads a local file as object `k` (in parts when large) and checks the stored size. */
  async #upload(k: string, localPath: string): Promise<void> {
    const size = (await stat(localPath)).size;
    try {
      if (size >= MULTIPART_BYTES) {
        await new Upload({ client: this.#s3, params: { Bucket: this.#bucket, Key: k, Body: createReadStream(localPath) }, partSize: MULTIPART_BYTES, queueSize: 4 }).done();
      } else {
        await this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: k, Body: createReadStream(localPath), ContentLength: size }));
      }
      const head = await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: k }));
      if (head.ContentLength !== size) throw new Error(`stored ${head.ContentLength} bytes of ${size}`);
    } catch (err) {
      throw storageError(`could not upload ${k.slice(this.#prefix.length)}`, err);
    }
  }

  /** A temporary directory of this process; the first one also clears what dead processes left. */
  async #tempDir(kind: 'file' | 'dir' | 'spool'): Promise<string> {
    await (this.#orphansRemoved ??= removeOrphanTempDirs().then(() => undefined));
    return makeTempDir(kind);
  }

  #key(key: string): string {
    return this.#prefix + checkKey(key);
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound' || err.name === 'NoSuchBucket');
}

function enoent(key: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`no object ${key}`), { code: 'ENOENT' });
}

/** An error that says what failed and why (S3's code and status, or the network's). */
function storageError(what: string, err: unknown): Error {
  if (err instanceof S3ServiceException) return new Error(`storage: ${what}: ${err.name} (HTTP ${err.$metadata.httpStatusCode ?? '?'}): ${err.message}`, { cause: err });
  const e = err as Partial<NodeJS.ErrnoException>;
  return new Error(`storage: ${what}: ${e.code ?? e.name ?? 'error'}: ${e.message ?? String(err)}`, { cause: err });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}
