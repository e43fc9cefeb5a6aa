import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { AppError } from '../../common/errors.ts';
import type { Storage, StoredObject } from '../../common/storage/Storage.ts';

/** What a response of a stored file says besides its bytes. */
export interface StoredFileAnswer {
  /** Content-Type, Cache-Control, Content-Disposition…: set on every answer but 304, 412 and 416. */
  headers: Record<string, string>;
  /** The error for an object that is not there (thrown before anything is sent). */
  notFound: () => AppError;
}

/** Headers an answer without a representation (304, 412, 416) leaves out. */
const REPRESENTATION_HEADERS = ['Content-Type', 'Content-Length', 'Content-Range', 'Content-Disposition', 'Content-Encoding', 'Content-Language', 'Cache-Control'];
const BYTES_RANGE = /^ *bytes=/;

/**
 * Serves GET and HEAD of one stored object, on any storage, by streaming it (or the one byte
 * range asked for) from `Storage.createReadStream`: nothing is copied to the node's disk. It
 * answers as `send` (express's `sendFile`) does for a file, so the local disk behaves as
 * before: a weak ETag from size and modification time, Last-Modified, `Accept-Ranges: bytes`;
 * If-Match / If-Unmodified-Since → 412; If-None-Match / If-Modified-Since → 304; one byte
 * range (parsed by express's `req.range`, i.e. `range-parser`, overlapping ranges combined)
 * → 206; an unsatisfiable one → 416 with `Content-Range: bytes *\/size`; a stale If-Range,
 * several ranges or a malformed header → the whole object.
 */
export class StoredFileResponder {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** Answers `req` with the object `key`; throws `answer.notFound()` when it is absent. */
  async send(req: Request, res: Response, key: string, answer: StoredFileAnswer): Promise<void> {
    const stored = await this.#storage.stat(key);
    if (!stored) throw answer.notFound();
    const etag = weakEtag(stored);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Last-Modified', stored.modifiedAt.toUTCString());
    res.setHeader('ETag', etag);
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);

    if (preconditionFailed(req, etag, stored.modifiedAt)) {
      bodyless(res, 412);
      return;
    }
    // express's `req.fresh`: If-None-Match / If-Modified-Since against the ETag and Last-Modified set above.
    if (req.fresh) {
      bodyless(res, 304);
      return;
    }

    const size = stored.sizeBytes;
    let range: { start: number; end: number } | undefined;
    if (BYTES_RANGE.test(req.headers.range ?? '') && rangeFresh(req, etag, stored.modifiedAt)) {
      const ranges = req.range(size, { combine: true });
      if (ranges === -1) {
        bodyless(res, 416, { 'Content-Range': `bytes */${size}` });
        return;
      }
      const only = ranges !== undefined && ranges !== -2 && ranges.length === 1 ? ranges[0] : undefined;
      if (only) {
        range = { start: only.start, end: only.end };
        res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      }
    }
    res.setHeader('Content-Length', range ? range.end - range.start + 1 : size);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let body;
    try {
      body = await this.#storage.createReadStream(key, range);
    } catch (err) {
      // Removed since the stat: as absent, while nothing has been sent.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      for (const name of [...REPRESENTATION_HEADERS, 'Accept-Ranges', 'Last-Modified', 'ETag']) res.removeHeader(name);
      throw answer.notFound();
    }
    // A client that goes away ends the read (and its request to the store); a store that fails
    // mid-way cuts the response short, which the client sees as an incomplete body.
    await pipeline(body, res).catch(() => undefined);
  }
}

/** `send`'s ETag of a file (the `etag` package on a stat): W/"<size hex>-<mtime ms hex>". */
function weakEtag(o: StoredObject): string {
  return `W/"${o.sizeBytes.toString(16)}-${o.modifiedAt.getTime().toString(16)}"`;
}

/** An answer without a body: the representation's headers go, `headers` are set. */
function bodyless(res: Response, status: 304 | 412 | 416, headers: Record<string, string> = {}): void {
  for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
  res.status(status).set(headers).end();
}

/** If-Match (any listed tag, weak or not, or `*`) and If-Unmodified-Since, as `send` reads them. */
function preconditionFailed(req: Request, etag: string, modifiedAt: Date): boolean {
  const match = req.headers['if-match'];
  if (match) {
    const tags = match.split(',').map((t) => t.trim());
    return !tags.includes('*') && !tags.includes(etag) && !tags.includes(etag.slice('W/'.length));
  }
  const since = Date.parse(req.headers['if-unmodified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(modifiedAt.getTime() / 1000) * 1000 > since;
}

/** If-Range: an entity tag must be ours, a date must not be older than the object. */
function rangeFresh(req: Request, etag: string, modifiedAt: Date): boolean {
  const ifRange = req.get('if-range');
  if (!ifRange) return true;
  if (ifRange.includes('"')) return ifRange.includes(etag);
  return Math.floor(modifiedAt.getTime() / 1000) * 1000 <= Date.parse(ifRange);
}
