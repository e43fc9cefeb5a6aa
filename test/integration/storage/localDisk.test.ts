import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDiskStorage } from '../../../common/storage/LocalDiskStorage.ts';
import { storageContract } from './storageContract.ts';

storageContract('local disk', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'spyglass-storage-'));
  return { storage: new LocalDiskStorage(root), cleanup: async () => rmSync(root, { recursive: true, force: true }) };
});

describe('LocalDiskStorage', () => {
  it('keeps objects at their key under the data directory (the layout an upgrade finds)', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'spyglass-storage-'));
    try {
      const storage = new LocalDiskStorage(root);
      await storage.writeFile('replays/b_abc/poster.jpg', 'x');
      expect(existsSync(path.join(root, 'replays', 'b_abc', 'poster.jpg'))).toBe(true);
      // No temporary file is left beside the object.
      expect(readdirSync(path.join(root, 'replays', 'b_abc'))).toEqual(['poster.jpg']);
      expect((await storage.localFile('replays/b_abc/poster.jpg')).path).toBe(path.join(root, 'replays', 'b_abc', 'poster.jpg'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('spools in the directory of the prefix itself: a stored file is not copied or moved', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'spyglass-storage-'));
    try {
      const storage = new LocalDiskStorage(root);
      const spool = await storage.spoolDir('recordings/b_abc/r1');
      expect(spool.path).toBe(path.join(root, 'recordings', 'b_abc', 'r1'));
      const file = path.join(spool.path, 'seg-00000.mkv');
      writeFileSync(file, 'segment');
      const inode = statSync(file).ino;
      await spool.store('seg-00000.mkv');
      await spool.release();
      expect(statSync(file).ino).toBe(inode);
      expect(await storage.list('recordings/b_abc')).toEqual(['recordings/b_abc/r1/seg-00000.mkv']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('never touches a file outside the root for a refused key', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'spyglass-storage-'));
    try {
      const root = path.join(parent, 'data');
      writeFileSync(path.join(parent, 'secret'), 'keep me');
      const storage = new LocalDiskStorage(root);
      await expect(storage.deletePrefix('..')).rejects.toThrow(/invalid storage key/);
      await expect(storage.writeFile('../secret', 'overwritten')).rejects.toThrow(/invalid storage key/);
      expect(readdirSync(parent).sort()).toEqual(['secret']);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
