import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { ArchiveInputSchema, type ArchiveInput } from '../../common/jobs/archiveInput.ts';
import type { LocalFile, Storage } from '../../common/storage/Storage.ts';
import { avatarKey, replayKey } from '../../common/storage/storageKeys.ts';
import {
  ARCHIVE_AVATAR_PATH,
  ARCHIVE_FORMAT,
  profileJson,
  archiveRootName,
  broadcastJson,
  chatJson,
  heartsJson,
  replayFilesOf,
  viewerData,
  type ArchiveReplayFile,
} from './contents.ts';
import { renderViewer } from './viewer.ts';
import { deflateBound, plannedZipSize, ZipWriter, type PlannedEntry } from './zip/ZipWriter.ts';

/**
 * Writes a user's archive zip (see docs/recording.md, "Archives: the zip", and
 * docs/archives.md, "Speed"), with our own zip writer (zip/ZipWriter.ts). Media files are STORED
 * and copied by the kernel (`cat` → copy_file_range; in user space, paced, for background
 * archives), JSON and HTML are deflated; each file's SHA-256 is the one recorded when its
 * replay was finalized (when the input carries it and the size still matches) or is computed
 * as the file is copied, and `manifest.json` comes last. Likewise a replay file's CRC-32 is the
 * finalize-time one when the input carries it, else computed on a worker thread beside the
 * copy. The archive's checksum is the SHA-256 of its manifest, which lists every file's
 * SHA-256 (no pass over the whole zip: #12, docs/archives.md "Integrity"). The zip is written to a partial file of this
 * attempt (`<outFile>.partial-<pid>-<random>`), fsynced and renamed: a partial zip never has the
 * final name, and a writer left over from a killed attempt never writes into another's file.
 */

export interface BuildArchiveOptions {
  /** Validated with ArchiveInputSchema before anything is written. */
  input: ArchiveInput;
  /** Where the replay files are (`replays/<broadcastId>/…`). */
  storage: Storage;
  /** A local file: the zip is written beside it as a partial file, then renamed to it. */
  outFile: string;
  signal?: AbortSignal;
  /** Share of the expected bytes written so far (0–100), at most every PROGRESS_INTERVAL_MS; 100 once complete. */
  onProgress?: (percent: number) => void;
  /** A quota on the zip's size: exceeding it fails like a full disk (ArchiveDiskFullError). */
  maxBytes?: number;
  /** Write no faster than this (background archives, so live traffic keeps the disk and CPU). */
  maxBytesPerSecond?: number;
  /** ZIP64 records on every entry, however small (tests of the ZIP64 path). */
  forceZip64?: boolean;
}

export interface BuiltArchive {
  sizeBytes: number;
  /** SHA-256 (hex) of the zip's `manifest.json`, the archive's published checksum. */
  manifestSha256: string;
  /** Entries in the zip, manifest.json included. */
  entries: number;
}

export interface ManifestFile {
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** The disk (or the archive quota) is full. The partial file has been removed (or was never made). */
export class ArchiveDiskFullError extends Error {
  override readonly name = 'ArchiveDiskFullError';
}

export const PROGRESS_INTERVAL_MS = 250;

interface PlannedFile {
  /** Path inside the zip, under the top folder. */
  zipPath: string;
  /**
   * Either a replay file (a local file of the storage's `replays/<id>/<name>`, stored; `sha256` when the input carries the
   * finalize-time hash of a file of this very size) or an in-memory document (deflated).
   */
  source: { kind: 'file'; absPath: string; size: number; sha256: string | null; crc32?: number | undefined } | { kind: 'buffer'; data: Buffer };
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Stats the allowed replay files the input lists; a listed file that is gone is skipped. */
async function presentReplayFiles(storage: Storage, b: ArchiveInput['broadcasts'][number], held: LocalFile[]) {
  const out: Array<{ name: ArchiveReplayFile; absPath: string; size: number; sha256: string | null; crc32?: number | undefined }> = [];
  for (const name of replayFilesOf(b)) {
    // b.id matched BroadcastIdSchema (b_[A-Za-z0-9_-]+) and name is one of ARCHIVE_REPLAY_FILES.
    // The zip copies them with the kernel, so it needs local files; released once it is written.
    const local = await storage.localFile(replayKey(b.id, name));
    held.push(local);
    const absPath = local.path;
    try {
      const st = await stat(absPath);
      // A stored hash of a file whose size has changed since is not this file's: hash it again.
      const known = knownHashOf(b, name);
      const same = known !== undefined && known.sizeBytes === st.size;
      if (st.isFile()) out.push({ name, absPath, size: st.size, sha256: same ? known.sha256 : null, crc32: same ? known.crc32 : undefined });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/** The size and SHA-256 the input carries for a replay file (recorded when the replay was finalized). */
function knownHashOf(b: ArchiveInput['broadcasts'][number], name: ArchiveReplayFile): { sizeBytes: number; sha256: string; crc32?: number | undefined } | undefined {
  const hashes = b.replay?.hashes;
  return hashes && Object.hasOwn(hashes, name) ? hashes[name] : undefined;
}

/** The profile's uploaded avatar (a small JPEG), or null when there is none (or it is gone since the snapshot). */
async function avatarOf(input: ArchiveInput, storage: Storage): Promise<Buffer | null> {
  const version = input.profile.avatar;
  if (version === undefined || version === null) return null;
  try {
    return await storage.readFile(avatarKey(input.profile.id, version));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function plan(input: ArchiveInput, storage: Storage, exportedAt: string, held: LocalFile[]): Promise<PlannedFile[]> {
  const avatar = await avatarOf(input, storage);
  const files: PlannedFile[] = [{ zipPath: 'profile.json', source: { kind: 'buffer', data: json(profileJson(input.profile, avatar !== null)) } }];
  if (avatar) files.push({ zipPath: ARCHIVE_AVATAR_PATH, source: { kind: 'buffer', data: avatar } });
  // Follows and notifications (snapshots of older versions have neither).
  if (input.follows) files.push({ zipPath: 'follows.json', source: { kind: 'buffer', data: json(input.follows) } });
  if (input.notifications) files.push({ zipPath: 'notifications.json', source: { kind: 'buffer', data: json(input.notifications) } });
  const included = new Map<string, ArchiveReplayFile[]>();
  for (const b of input.broadcasts) {
    const present = await presentReplayFiles(storage, b, held);
    included.set(
      b.id,
      present.map((f) => f.name),
    );
    const dir = `broadcasts/${b.id}`;
    files.push(
      { zipPath: `${dir}/broadcast.json`, source: { kind: 'buffer', data: json(broadcastJson(b, included.get(b.id) ?? [])) } },
      { zipPath: `${dir}/chat.json`, source: { kind: 'buffer', data: json(chatJson(b)) } },
      { zipPath: `${dir}/hearts.json`, source: { kind: 'buffer', data: json(heartsJson(b)) } },
      ...present.map((f): PlannedFile => ({ zipPath: `${dir}/${f.name}`, source: { kind: 'file', absPath: f.absPath, size: f.size, sha256: f.sha256, crc32: f.crc32 } })),
    );
  }
  files.push(
    { zipPath: 'chat-elsewhere.json', source: { kind: 'buffer', data: json(input.chatElsewhere) } },
    { zipPath: 'index.html', source: { kind: 'buffer', data: Buffer.from(renderViewer(viewerData(input, exportedAt, included))) } },
  );
  return files;
}

export async function buildArchive(opts: BuildArchiveOptions): Promise<BuiltArchive> {
  const held: LocalFile[] = [];
  try {
    return await writeArchive(opts, held);
  } finally {
    await Promise.all(held.map((f) => f.release()));
  }
}

async function writeArchive(opts: BuildArchiveOptions, held: LocalFile[]): Promise<BuiltArchive> {
  // Refuse bad input before anything touches the disk.
  const input = ArchiveInputSchema.parse(opts.input);
  const { signal, onProgress, maxBytes, maxBytesPerSecond } = opts;
  const forceZip64 = opts.forceZip64 ?? false;
  signal?.throwIfAborted();

  const exportedAt = new Date().toISOString();
  const mtime = new Date(exportedAt);
  const root = archiveRootName(input.profile.username);
  const files = await plan(input, opts.storage, exportedAt, held);
  signal?.throwIfAborted();

  // Documents are in memory: deflate them now, so that the zip's size is known before it is
  // written — but for the manifest's deflated size, bounded (its text has a known length: every
  // SHA-256 is 64 hex digits and every size is planned).
  const deflated = new Map<PlannedFile, Buffer>();
  for (const f of files) if (f.source.kind === 'buffer') deflated.set(f, zlib.deflateRawSync(f.source.data));
  const manifestOf = (list: ManifestFile[]) =>
    json({
      format: ARCHIVE_FORMAT,
      exportedAt,
      appVersion: input.appVersion,
      user: { id: input.profile.id, username: input.profile.username },
      files: list,
    });
  const placeholder = manifestOf(
    files.map((f) =>
      f.source.kind === 'buffer'
        ? { path: f.zipPath, sizeBytes: f.source.data.length, sha256: '0'.repeat(64) }
        : { path: f.zipPath, sizeBytes: f.source.size, sha256: '0'.repeat(64) },
    ),
  );
  const entries: PlannedEntry[] = files.map((f) =>
    f.source.kind === 'buffer'
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- every buffer file was deflated above
      ? { name: `${root}/${f.zipPath}`, uncompressedSize: f.source.data.length, compressedSize: deflated.get(f)!.length, descriptor: false }
      : { name: `${root}/${f.zipPath}`, uncompressedSize: f.source.size, compressedSize: f.source.size, descriptor: true },
  );
  entries.push({ name: `${root}/manifest.json`, uncompressedSize: placeholder.length, compressedSize: deflateBound(placeholder.length), descriptor: false });
  // At most this many bytes (exactly, but for the manifest's compression): the quota is checked before writing.
  const planned = plannedZipSize(entries, forceZip64);
  if (maxBytes !== undefined && planned > maxBytes) {
    throw new ArchiveDiskFullError(`The archive would exceed its quota of ${maxBytes} bytes (${planned} bytes)`);
  }

  await mkdir(path.dirname(opts.outFile), { recursive: true });
  await removeStalePartials(opts.outFile);
  const partial = `${opts.outFile}.partial-${process.pid}-${randomBytes(6).toString('hex')}`;

  const manifest: ManifestFile[] = [];
  let writer: ZipWriter | undefined;
  let lastProgressAt = 0;
  let lastPercent = 0;
  let progressError: unknown = null;
  const report = (bytes: number) => {
    const now = Date.now();
    if (!onProgress || now - lastProgressAt < PROGRESS_INTERVAL_MS) return;
    lastProgressAt = now;
    lastPercent = Math.max(lastPercent, Math.min(99, Math.floor((bytes / planned) * 100)));
    try {
      onProgress(lastPercent);
    } catch (err) {
      progressError ??= err;
    }
  };
  const checkProgress = () => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what onProgress threw, passed on as it was
    if (progressError !== null) throw progressError;
  };
  // While the kernel copies a big file, the file's size tells how far it is.
  let polling = false;
  const timer = onProgress
    ? setInterval(() => {
        if (polling || !writer) return;
        polling = true;
        void writer
          .currentSize()
          .then(report)
          .finally(() => (polling = false));
      }, PROGRESS_INTERVAL_MS)
    : undefined;

  let built: { sizeBytes: number };
  let manifestSha256: string;
  try {
    writer = await ZipWriter.create(partial, { mtime, forceZip64, ...(signal ? { signal } : {}), ...(maxBytesPerSecond ? { maxBytesPerSecond } : {}) });
    for (const f of files) {
      report(writer.bytesWritten);
      checkProgress();
      const zipPath = `${root}/${f.zipPath}`;
      const source = f.source;
      if (source.kind === 'buffer') {
        manifest.push({ path: f.zipPath, sizeBytes: source.data.length, sha256: sha256Hex(source.data) });
        await writer.addBuffer(zipPath, source.data, deflated.get(f));
        continue;
      }
      // The finalize-time hash, of a file of the same size (the writer checks the byte count), or computed as it is copied.
      const known = source.sha256;
      // Likewise its finalize-time CRC-32 (when recorded): then the copy does not wait for any hashing.
      const copied = await writer.addFile(zipPath, source.absPath, source.size, { sha256: known === null, crc32: source.crc32 });
      const sha256 = known ?? copied.sha256;
      if (sha256 === null) throw new Error(`no SHA-256 for ${f.zipPath}`);
      manifest.push({ path: f.zipPath, sizeBytes: source.size, sha256 });
    }
    report(writer.bytesWritten);
    checkProgress();
    const manifestBytes = manifestOf(manifest);
    manifestSha256 = sha256Hex(manifestBytes);
    await writer.addBuffer(`${root}/manifest.json`, manifestBytes);
    built = await writer.finish();
    checkProgress();
    signal?.throwIfAborted();
    await rename(partial, opts.outFile);
  } catch (err) {
    await writer?.close().catch(() => undefined);
    await rm(partial, { force: true });
    if (isDiskFull(err)) throw new ArchiveDiskFullError('The disk is full', { cause: err });
    throw err;
  } finally {
    clearInterval(timer);
  }
  await syncDir(path.dirname(opts.outFile));
  onProgress?.(100);
  return { sizeBytes: built.sizeBytes, manifestSha256, entries: files.length + 1 };
}

/** Removes partial files of earlier attempts of this archive (a killed worker leaves its own). */
async function removeStalePartials(outFile: string): Promise<void> {
  const prefix = `${path.basename(outFile)}.partial`;
  const dir = path.dirname(outFile);
  for (const name of await readdir(dir)) {
    if (name.startsWith(prefix)) await rm(path.join(dir, name), { force: true });
  }
}

/** Makes a rename durable; best effort (not every file system lets a directory be fsynced). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // ignore
  }
}
