import { describe, expect, it } from 'vitest';
import { centralHeader, dataDescriptor, dosDateTime, endRecords, localHeader, plannedZipSize, record, ZIP32_LIMIT } from '../../../workers/archive/zip/format.ts';

const when = dosDateTime(new Date(2026, 11, 3, 17, 30, 41));

describe('the zip format (pure)', () => {
  it('writes DOS dates at 2 s resolution, clamped to 1980–2107', () => {
    expect(when).toEqual({ date: ((2026 - 1980) << 9) | (12 << 5) | 3, time: (17 << 11) | (30 << 5) | 20 });
    expect(dosDateTime(new Date(1970, 0, 1))).toEqual({ date: (1 << 5) | 1, time: 0 });
    expect(dosDateTime(new Date(2200, 0, 1)).date >> 9).toBe(127);
  });

  it('builds a small stored entry: local header with sizes 0 and bit 3, a 16-byte descriptor, no ZIP64', () => {
    const r = { ...record({ name: 'a.mp4', compressedSize: 10, uncompressedSize: 10, descriptor: true }, 0, false), crc32: 0xdeadbeef };
    const local = localHeader(r, when);
    expect(local.readUInt32LE(0)).toBe(0x04034b50);
    expect(local.readUInt16LE(6) & (1 << 3)).toBe(1 << 3);
    expect(local.readUInt32LE(18)).toBe(0); // compressed size, in the descriptor instead
    expect(local.subarray(30, 35).toString()).toBe('a.mp4');
    const descriptor = dataDescriptor(r);
    expect(descriptor.length).toBe(16);
    expect(descriptor.readUInt32LE(4)).toBe(0xdeadbeef);
    expect(descriptor.readUInt32LE(8)).toBe(10);
  });

  it('switches an entry to ZIP64 at 4 GiB − 1, and everything when forced', () => {
    expect(record({ name: 'big.mp4', compressedSize: ZIP32_LIMIT - 1, uncompressedSize: ZIP32_LIMIT - 1, descriptor: true }, 0, false).sizes64).toBe(false);
    const big = record({ name: 'big.mp4', compressedSize: ZIP32_LIMIT, uncompressedSize: ZIP32_LIMIT, descriptor: true }, 0, false);
    expect(big.sizes64).toBe(true);
    expect(dataDescriptor(big).length).toBe(24);
    expect(centralHeader(big, when, false).readUInt32LE(20)).toBe(0xffffffff);
    expect(endRecords(1, 100, 50, true).readUInt32LE(0)).toBe(0x06064b50);
    expect(endRecords(1, 100, 50, false).readUInt32LE(0)).toBe(0x06054b50);
  });

  it('plans exactly the bytes the builders produce', () => {
    const entries = [
      { name: 'manifest.json', compressedSize: 120, uncompressedSize: 400, descriptor: false },
      { name: 'replays/b_1/replay.mp4', compressedSize: 5000, uncompressedSize: 5000, descriptor: true },
    ];
    for (const force of [false, true]) {
      let offset = 0;
      const records = entries.map((e) => {
        const r = record(e, offset, force);
        offset += localHeader(r, when).length + e.compressedSize + (e.descriptor ? dataDescriptor(r).length : 0);
        return r;
      });
      const central = records.reduce((n, r) => n + centralHeader(r, when, force).length, 0);
      const total = offset + central + endRecords(records.length, offset, central, force).length;
      expect(plannedZipSize(entries, force)).toBe(total);
    }
  });
});
