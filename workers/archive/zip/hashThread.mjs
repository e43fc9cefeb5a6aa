// @ts-check
/**
 * The zip writer's hashing thread (HashThread.ts starts it): computes per file, over the bytes
 * it is given or reads itself, its CRC-32 (`crc`) and SHA-256 (`sha`). Messages: hashMessages.ts.
 *
 * Plain JavaScript, type-checked by tsc through the JSDoc types (`// @ts-check`), for a
 * measured reason: a worker thread gets no TypeScript loader from its parent, and registering
 * tsx in it costs ~230 ms per thread against ~35 ms for this file.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import zlib from 'node:zlib';

/** Chunk a file is read in: small enough to stay in the CPU's L2 cache for the CRC or hash that follows. */
const READ_CHUNK = 128 << 10;

/** @typedef {import('./hashMessages.ts').ToThread} ToThread */
/** @typedef {import('./hashMessages.ts').FromThread} FromThread */
/** @typedef {import('./hashMessages.ts').Wanted} Wanted */
/** @typedef {{ crc: boolean; crc32: number; sha: import('node:crypto').Hash | null; bytes: number }} FileState */

const port = parentPort;
if (!port) throw new Error('hashThread.mjs runs as a worker thread');
/** @type {FileState | null} */
let file = null;

/** @param {FromThread} m */
const send = (m) => port.postMessage(m);

/** @param {Wanted} m */
const begin = (m) => {
  file = { crc: m.crc, crc32: 0, sha: m.sha ? createHash('sha256') : null, bytes: 0 };
};

/** @param {Uint8Array} data */
const add = (data) => {
  if (!file) throw new Error('bytes of a file that was not begun');
  if (file.crc) file.crc32 = zlib.crc32(data, file.crc32);
  if (file.sha) file.sha.update(data);
  file.bytes += data.length;
};

const end = () => {
  const f = file;
  file = null;
  if (!f) throw new Error('the end of a file that was not begun');
  send({ t: 'file', crc32: f.crc32 >>> 0, sha256: f.sha ? f.sha.digest('hex') : null, bytes: f.bytes });
};

/** @param {string} path @param {number} size */
const read = (path, size) => {
  let fd = -1;
  try {
    fd = fs.openSync(path, 'r');
    const buf = Buffer.allocUnsafeSlow(READ_CHUNK);
    let left = size;
    while (left > 0) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, left), size - left);
      if (n === 0) break;
      add(buf.subarray(0, n));
      left -= n;
    }
  } catch (err) {
    file = null;
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    send({ t: 'error', message: String(e?.message ?? e), ...(e?.code ? { code: e.code } : {}) });
    return;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  end();
};

port.on('message', (/** @type {ToThread} */ m) => {
  switch (m.t) {
    case 'begin':
      return begin(m);
    case 'chunk':
      add(m.data);
      return send({ t: 'ack', n: m.data.byteLength });
    case 'end':
      return end();
    case 'read':
      begin(m);
      return read(m.path, m.size);
  }
});
