/**
 * The ZIP format as the archive writer uses it (APPNOTE 6.3.x), pure: header and end-record
 * builders, ZIP64 rules, DOS dates, and the exact planned size of a zip. No I/O, so every byte
 * it builds is unit-testable (test/unit/workers/zipFormat.test.ts).
 * - In-memory documents are deflated: CRC and sizes in the local header.
 * - Files are STORED with a data descriptor (general-purpose bit 3): local header with CRC and
 *   sizes 0, the bytes, then the descriptor (8-byte sizes when the entry is ZIP64).
 * - ZIP64 when needed (an entry ≥ 4 GiB − 1, an offset beyond, more than 65,534 entries, a central
 *   directory beyond 4 GiB), or for every entry and the end record with `force` (tests).
 * - UTF-8 names (bit 11), DOS time (local time, 2 s resolution), made by Unix, mode 0644
 *   regular file in the external attributes.
 */

/** Sizes and offsets at or above this need ZIP64 (0xFFFFFFFF itself means "see the ZIP64 field"). */
export const ZIP32_LIMIT = 0xffffffff;
/** Entry counts at or above this need the ZIP64 end record. */
const ZIP32_ENTRIES = 0xffff;

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_END = 0x06054b50;
const FLAG_DESCRIPTOR = 1 << 3;
const FLAG_UTF8 = 1 << 11;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const VERSION_DEFAULT = 20; // deflate, data descriptor
const VERSION_ZIP64 = 45;
/** Unix (3), spec version 6.3. */
const VERSION_MADE_BY = (3 << 8) | 63;
/** A regular file, rw-r--r--. */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;

/** What the size of a zip depends on, entry by entry (see plannedZipSize). */
export interface PlannedEntry {
  name: string;
  compressedSize: number;
  uncompressedSize: number;
  /** Stored files are written with a data descriptor; documents are not. */
  descriptor: boolean;
}

/** One entry as the central directory records it. */
export interface CentralRecord {
  name: Buffer;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  offset: number;
  sizes64: boolean;
}

function nameBytes(name: string): Buffer {
  const b = Buffer.from(name, 'utf8');
  if (b.length === 0 || b.length > 0xffff) throw new Error(`zip entry name of ${b.length} bytes: ${name.slice(0, 80)}`);
  return b;
}

/** MS-DOS date and time, local time, 2 s resolution; clamped to 1980–2107. */
export function dosDateTime(d: Date): { date: number; time: number } {
  const year = d.getFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29 };
  return {
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

const needsZip64 = (e: { compressedSize: number; uncompressedSize: number }, force: boolean) =>
  force || e.compressedSize >= ZIP32_LIMIT || e.uncompressedSize >= ZIP32_LIMIT;

export function localHeader(r: CentralRecord, when: { date: number; time: number }): Buffer {
  const known = (r.flags & FLAG_DESCRIPTOR) === 0;
  const extra = r.sizes64 ? 20 : 0;
  const b = Buffer.alloc(30 + r.name.length + extra);
  b.writeUInt32LE(SIG_LOCAL, 0);
  b.writeUInt16LE(r.sizes64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  b.writeUInt16LE(r.flags, 6);
  b.writeUInt16LE(r.method, 8);
  b.writeUInt16LE(when.time, 10);
  b.writeUInt16LE(when.date, 12);
  b.writeUInt32LE(known ? r.crc32 : 0, 14);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : known ? r.compressedSize : 0, 18);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : known ? r.uncompressedSize : 0, 22);
  b.writeUInt16LE(r.name.length, 26);
  b.writeUInt16LE(extra, 28);
  r.name.copy(b, 30);
  if (r.sizes64) {
    // The ZIP64 extended information field of a local header has both sizes (0 until the descriptor).
    const at = 30 + r.name.length;
    b.writeUInt16LE(0x0001, at);
    b.writeUInt16LE(16, at + 2);
    b.writeBigUInt64LE(BigInt(known ? r.uncompressedSize : 0), at + 4);
    b.writeBigUInt64LE(BigInt(known ? r.compressedSize : 0), at + 12);
  }
  return b;
}

export function dataDescriptor(r: CentralRecord): Buffer {
  if (!r.sizes64) {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(SIG_DESCRIPTOR, 0);
    b.writeUInt32LE(r.crc32, 4);
    b.writeUInt32LE(r.compressedSize, 8);
    b.writeUInt32LE(r.uncompressedSize, 12);
    return b;
  }
  const b = Buffer.alloc(24);
  b.writeUInt32LE(SIG_DESCRIPTOR, 0);
  b.writeUInt32LE(r.crc32, 4);
  b.writeBigUInt64LE(BigInt(r.compressedSize), 8);
  b.writeBigUInt64LE(BigInt(r.uncompressedSize), 16);
  return b;
}

export function centralHeader(r: CentralRecord, when: { date: number; time: number }, force: boolean): Buffer {
  const offset64 = force || r.offset >= ZIP32_LIMIT;
  const fields = (r.sizes64 ? 2 : 0) + (offset64 ? 1 : 0);
  const extra = fields > 0 ? 4 + 8 * fields : 0;
  const b = Buffer.alloc(46 + r.name.length + extra);
  b.writeUInt32LE(SIG_CENTRAL, 0);
  b.writeUInt16LE(VERSION_MADE_BY, 4);
  b.writeUInt16LE(fields > 0 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
  b.writeUInt16LE(r.flags, 8);
  b.writeUInt16LE(r.method, 10);
  b.writeUInt16LE(when.time, 12);
  b.writeUInt16LE(when.date, 14);
  b.writeUInt32LE(r.crc32, 16);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : r.compressedSize, 20);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : r.uncompressedSize, 24);
  b.writeUInt16LE(r.name.length, 28);
  b.writeUInt16LE(extra, 30);
  // comment length, disk number start, internal attributes: 0
  b.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
  b.writeUInt32LE(offset64 ? ZIP32_LIMIT : r.offset, 42);
  r.name.copy(b, 46);
  if (fields > 0) {
    // Only the fields whose header value is 0xFFFFFFFF, in this order.
    let at = 46 + r.name.length;
    b.writeUInt16LE(0x0001, at);
    b.writeUInt16LE(8 * fields, at + 2);
    at += 4;
    if (r.sizes64) {
      b.writeBigUInt64LE(BigInt(r.uncompressedSize), at);
      b.writeBigUInt64LE(BigInt(r.compressedSize), at + 8);
      at += 16;
    }
    if (offset64) b.writeBigUInt64LE(BigInt(r.offset), at);
  }
  return b;
}

export function endRecords(entries: number, cdOffset: number, cdSize: number, force: boolean): Buffer {
  const zip64 = force || entries >= ZIP32_ENTRIES || cdOffset >= ZIP32_LIMIT || cdSize >= ZIP32_LIMIT;
  const b = Buffer.alloc((zip64 ? 56 + 20 : 0) + 22);
  let at = 0;
  if (zip64) {
    b.writeUInt32LE(SIG_END64, 0);
    b.writeBigUInt64LE(44n, 4); // size of the rest of this record
    b.writeUInt16LE(VERSION_MADE_BY, 12);
    b.writeUInt16LE(VERSION_ZIP64, 14);
    // this disk, disk of the central directory: 0
    b.writeBigUInt64LE(BigInt(entries), 24);
    b.writeBigUInt64LE(BigInt(entries), 32);
    b.writeBigUInt64LE(BigInt(cdSize), 40);
    b.writeBigUInt64LE(BigInt(cdOffset), 48);
    // Locator: where the ZIP64 end record is (right after the central directory).
    b.writeUInt32LE(SIG_LOCATOR64, 56);
    b.writeBigUInt64LE(BigInt(cdOffset + cdSize), 64);
    b.writeUInt32LE(1, 72); // total number of disks
    at = 76;
  }
  b.writeUInt32LE(SIG_END, at);
  b.writeUInt16LE(zip64 ? ZIP32_ENTRIES : entries, at + 8);
  b.writeUInt16LE(zip64 ? ZIP32_ENTRIES : entries, at + 10);
  b.writeUInt32LE(zip64 ? ZIP32_LIMIT : cdSize, at + 12);
  b.writeUInt32LE(zip64 ? ZIP32_LIMIT : cdOffset, at + 16);
  return b;
}

export function record(e: PlannedEntry, offset: number, force: boolean): CentralRecord {
  return {
    name: nameBytes(e.name),
    method: e.descriptor ? METHOD_STORE : METHOD_DEFLATE,
    flags: FLAG_UTF8 | (e.descriptor ? FLAG_DESCRIPTOR : 0),
    crc32: 0,
    compressedSize: e.compressedSize,
    uncompressedSize: e.uncompressedSize,
    offset,
    sizes64: needsZip64(e, force),
  };
}

/**
 * The exact size of the zip ZipWriter writes for these entries, in this order (the same
 * header builders, so it cannot disagree with the writer).
 */
export function plannedZipSize(entries: readonly PlannedEntry[], forceZip64 = false): number {
  const when = { date: 0, time: 0 };
  let offset = 0;
  const records: CentralRecord[] = [];
  for (const e of entries) {
    const r = record(e, offset, forceZip64);
    records.push(r);
    offset += localHeader(r, when).length + e.compressedSize + (e.descriptor ? dataDescriptor(r).length : 0);
  }
  let cdSize = 0;
  for (const r of records) cdSize += centralHeader(r, when, forceZip64).length;
  return offset + cdSize + endRecords(records.length, offset, cdSize, forceZip64).length;
}

/** An upper bound of the size of `n` bytes once deflated (zlib's deflateBound, raw). */
export const deflateBound = (n: number) => n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13;
