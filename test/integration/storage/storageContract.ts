import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidStorageKeyError, type Storage } from '../../../common/storage/Storage.ts';

/**
 * The contract every Storage implementation keeps, run against a fresh, empty store per
 * test. `make` returns the store and a cleanup; an object-store implementation runs the same
 * suite with a real server behind it.
 */
export function storageContract(name: string, make: () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>): void {
  describe(`Storage contract: ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ storage, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('writes, stats and reads an object back', async () => {
      await storage.writeFile('replays/b_abc/poster.jpg', 'hello world');
      expect((await storage.readFile('replays/b_abc/poster.jpg')).toString()).toBe('hello world');
      const st = await storage.stat('replays/b_abc/poster.jpg');
      expect(st?.sizeBytes).toBe(11);
      expect(st?.modifiedAt).toBeInstanceOf(Date);
    });

    it('answers null / ENOENT for an object that is not there', async () => {
      expect(await storage.stat('replays/b_none/replay.mp4')).toBeNull();
      await expect(storage.readFile('replays/b_none/replay.mp4')).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(storage.createReadStream('replays/b_none/replay.mp4')).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('streams a byte range, inclusive at both ends, and the whole object without one', async () => {
      await storage.writeFile('archives/a_12345678/x.zip', '0123456789');
      expect(await text(await storage.createReadStream('archives/a_12345678/x.zip', { start: 2, end: 5 }))).toBe('2345');
      expect(await text(await storage.createReadStream('archives/a_12345678/x.zip'))).toBe('0123456789');
    });

    it('replaces an object whole on a second write', async () => {
      await storage.writeFile('archives/a_12345678/input.json', '{"v":1}');
      await storage.writeFile('archives/a_12345678/input.json', '{"v":2}');
      expect((await storage.readFile('archives/a_12345678/input.json')).toString()).toBe('{"v":2}');
      expect(await storage.list('archives/a_12345678')).toEqual(['archives/a_12345678/input.json']);
    });

    it('moves a local file in with putFile', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-put-'));
      const local = path.join(dir, 'built.zip');
      writeFileSync(local, 'zip bytes');
      await storage.putFile('archives/a_12345678/spyglass-archive.zip', local);
      expect(existsSync(local)).toBe(false);
      expect((await storage.readFile('archives/a_12345678/spyglass-archive.zip')).toString()).toBe('zip bytes');
    });

    it('lists by prefix, nested keys included, and nothing of a sibling prefix', async () => {
      await storage.writeFile('replays/b_one/replay.mp4', 'a');
      await storage.writeFile('replays/b_one/hls/index.m3u8', 'b');
      await storage.writeFile('replays/b_one2/replay.mp4', 'c');
      expect(await storage.list('replays/b_one')).toEqual(['replays/b_one/hls/index.m3u8', 'replays/b_one/replay.mp4']);
      expect(await storage.list('replays/b_missing')).toEqual([]);
    });

    it('deletes a prefix and nothing else; deleting nothing is fine', async () => {
      await storage.writeFile('archives/a_aaaaaaaa/input.json', 'a');
      await storage.writeFile('archives/a_aaaaaaaa/spyglass-archive.zip', 'b');
      await storage.writeFile('archives/a_aaaaaaaab/input.json', 'c');
      await storage.deletePrefix('archives/a_aaaaaaaa');
      expect(await storage.list('archives/a_aaaaaaaa')).toEqual([]);
      expect(await storage.list('archives/a_aaaaaaaab')).toEqual(['archives/a_aaaaaaaab/input.json']);
      await storage.deletePrefix('archives/a_never');
    });

    it('gives a local file with the bytes of an object', async () => {
      await storage.writeFile('replays/b_abc/replay.mp4', 'mp4 bytes');
      const local = await storage.localFile('replays/b_abc/replay.mp4');
      try {
        expect(readFileSync(local.path, 'utf8')).toBe('mp4 bytes');
      } finally {
        await local.release();
        await local.release();
      }
    });

    it('stores what a local directory holds once committed, nested files included', async () => {
      await storage.writeFile('recordings/b_abc/run-1.json', '{}');
      const dir = await storage.localDir('recordings/b_abc');
      try {
        expect(readFileSync(path.join(dir.path, 'run-1.json'), 'utf8')).toBe('{}');
        writeFileSync(path.join(dir.path, 'seg-00001.mkv'), 'segment');
        await dir.commit();
      } finally {
        await dir.release();
        await dir.release();
      }
      expect(await storage.list('recordings/b_abc')).toEqual(['recordings/b_abc/run-1.json', 'recordings/b_abc/seg-00001.mkv']);
    });

    it('stores the files of a spool directory one by one, as each is finished', async () => {
      const spool = await storage.spoolDir('recordings/b_abc/r1');
      try {
        writeFileSync(path.join(spool.path, 'seg-00000.mkv'), 'finished');
        writeFileSync(path.join(spool.path, 'seg-00001.mkv'), 'in flight');
        await spool.store('seg-00000.mkv');
        expect((await storage.readFile('recordings/b_abc/r1/seg-00000.mkv')).toString()).toBe('finished');
        expect((await storage.stat('recordings/b_abc/r1/seg-00000.mkv'))?.sizeBytes).toBe(8);
        await expect(spool.store('seg-00009.mkv')).rejects.toMatchObject({ code: 'ENOENT' });
        await expect(spool.store('../r2/seg-00000.mkv')).rejects.toEqual(expect.any(InvalidStorageKeyError));
      } finally {
        await spool.release();
        await spool.release();
      }
      expect(await storage.list('recordings/b_abc')).toContain('recordings/b_abc/r1/seg-00000.mkv');
    });

    const BAD_KEYS = [
      '',
      '/etc/passwd',
      '../secret',
      'replays/../../secret',
      'replays/b_abc/../../spyglass.db',
      'replays/./b_abc',
      'replays//b_abc',
      'replays/b_abc/',
      'replays\\..\\secret',
      'replays/.hidden',
      'replays/b_abc/replay.mp4\u0000',
      'replays/%2e%2e/secret',
      `replays/${'x'.repeat(2000)}`,
    ];
    it.each(BAD_KEYS.map((k) => [JSON.stringify(k).slice(0, 60), k]))('refuses the key %s in every operation', async (_label, key) => {
      const refused = expect.any(InvalidStorageKeyError);
      await expect(storage.stat(key)).rejects.toEqual(refused);
      await expect(storage.createReadStream(key)).rejects.toEqual(refused);
      await expect(storage.readFile(key)).rejects.toEqual(refused);
      await expect(storage.writeFile(key, 'x')).rejects.toEqual(refused);
      await expect(storage.putFile(key, '/nonexistent')).rejects.toEqual(refused);
      await expect(storage.list(key)).rejects.toEqual(refused);
      await expect(storage.deletePrefix(key)).rejects.toEqual(refused);
      await expect(storage.localFile(key)).rejects.toEqual(refused);
      await expect(storage.localDir(key)).rejects.toEqual(refused);
      await expect(storage.spoolDir(key)).rejects.toEqual(refused);
    });
  });
}
