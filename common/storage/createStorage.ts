import type { Config } from '../config.ts';
import { LocalDiskStorage } from './LocalDiskStorage.ts';
import { S3Storage } from './S3Storage.ts';
import type { Storage } from './Storage.ts';

/** The storage a process uses, from its config, ready for use; `close()` releases it. */
export async function createStorage(config: Pick<Config, 'storage' | 'dataDir'>): Promise<{ storage: Storage; close: () => void }> {
  const o = config.storage;
  if (o.kind === 'local') return { storage: new LocalDiskStorage(config.dataDir), close: () => undefined };
  const s3 = new S3Storage(o);
  try {
    await s3.ensureBucket();
  } catch (err) {
    s3.close();
    throw err;
  }
  return { storage: s3, close: () => s3.close() };
}
