import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './freePort.ts';

const script = path.join(import.meta.dirname, '..', 'start-rgw.sh');

/** A real S3 endpoint: a single-node Ceph (memstore) with radosgw, of the test's own. */
/** The environment that stores a service's files in `bucket` (under `prefix`) of an S3 endpoint. */
export function s3StorageEnv(s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }, bucket: string, prefix?: string): Record<string, string> {
  return {
    SPYGLASS_STORAGE: 's3',
    SPYGLASS_S3_ENDPOINT: s3.endpoint,
    SPYGLASS_S3_REGION: s3.region,
    SPYGLASS_S3_BUCKET: bucket,
    ...(prefix === undefined ? {} : { SPYGLASS_S3_PREFIX: prefix }),
    SPYGLASS_S3_ACCESS_KEY: s3.accessKeyId,
    SPYGLASS_S3_SECRET_KEY: s3.secretAccessKey,
    SPYGLASS_S3_FORCE_PATH_STYLE: 'true',
  };
}

export interface Rgw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Seconds from nothing to an answering endpoint. */
  startSeconds: number;
  /** Stops its daemons and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

function run(args: string[], dir: string, env: Record<string, string> = {}): Promise<void> {
  // The daemons must not inherit a pipe of ours (the call would wait for them to exit):
  // everything goes to a file.
  const out = `${dir}.out`;
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', `"$0" "$@" >>"${out}" 2>&1`, script, ...args], { env: { ...process.env, ...env }, timeout: 180_000 }, (err) => {
      if (err) reject(new Error(`start-rgw.sh ${args.join(' ')} failed:\n${readFileSync(out, 'utf8').slice(-3000)}`));
      else resolve();
    });
  });
}

/** Starts one RGW in a temp dir (scripts/start-rgw.sh), on `port` of 127.0.0.1 (default: a free one). */
export async function startRgw(port?: number): Promise<Rgw> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-rgw-'));
  port ??= await freePort();
  const started = performance.now();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await run(['stop', dir], dir).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.out`, { force: true });
    })());
  try {
    await run([String(port), dir], dir, { OSD_STORE: 'memstore', OSD_SIZE_GB: '2' });
  } catch (err) {
    await stop();
    throw err;
  }
  const vars = new Map(
    readFileSync(`${dir}.out`, 'utf8')
      .split('\n')
      .map((l) => /^(S3_[A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  return {
    endpoint: vars.get('S3_ENDPOINT') ?? `http://127.0.0.1:${port}`,
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- start-rgw.sh prints both keys once it is up
    accessKeyId: vars.get('S3_ACCESS_KEY')!,
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- start-rgw.sh prints both keys once it is up
    secretAccessKey: vars.get('S3_SECRET_KEY')!,
    region: vars.get('S3_REGION') ?? 'us-east-1',
    startSeconds: (performance.now() - started) / 1000,
    stop,
  };
}
