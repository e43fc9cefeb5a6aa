import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HostNetwork } from './HostNetwork.ts';
import { HostProcess } from './HostProcess.ts';
import { s3StorageEnv } from './rgw.ts';

const root = path.join(import.meta.dirname, '..', '..');
/** Every host serves /metrics on its own address: nodes on 9100, the workers host on 9101. */
export const METRICS_PORT = 9100;
export const WORKERS_METRICS_PORT = 9101;

/** An S3-compatible store on this machine's loopback (e.g. scripts/start-rgw.sh). */
export interface LocalS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  bucket: string;
}

export interface LocalClusterOptions {
  /** Short name of the network (HostNetwork): namespaces `<name>-<host>`. */
  name: string;
  subnet: number;
  /** Node ids, one host each (e.g. a, b, c). */
  nodes: string[];
  /** Workers hosts to run (recording, replays, archives): `w`, then `w2`, `w3`, …; 0 for none. */
  workers: number;
  /** More hosts with nothing started on them (after the nodes and the workers hosts): for a caller's own processes, e.g. a TURN server or a browser. */
  hosts?: string[] | undefined;
  /** The deployment's PostgreSQL database, on this machine's loopback; the hosts reach it through the bridge. */
  databaseUrl: string;
  /** The deployment's object store, on this machine's loopback; without it each host stores on its own disk. */
  s3?: LocalS3 | undefined;
  /** The deployment's secret, shared by every node (sessions must hold on every node). */
  secret: string;
  queuePrefix: string;
  /** The HTTP port of every node, on its own address. Default 8080. */
  port?: number;
  /** Origins the nodes accept besides their own addresses (e.g. forwards on localhost). */
  allowedOrigins?: string[];
  /** More environment for every process (config, LOG_LEVEL, NODE_OPTIONS, …); a function of the network and the host for values that name addresses. */
  env?: Record<string, string> | ((network: HostNetwork, host: string) => Record<string, string>);
  /** Called with every chunk a process prints. */
  onOutput?: (process: string, text: string) => void;
}

/** One node of the cluster: signalling + SFU on its own host. */
export interface ClusterNodeHandle {
  id: string;
  address: string;
  url: string;
  dataDir: string;
  process: HostProcess;
}

/**
 * A Spyglass deployment of several hosts on one machine (docs/scale.md, "Try it on one
 * machine"): one network namespace per node and one for the workers host, on a bridge; a
 * Redis of the deployment's own on the bridge address (the machine's Redis listens on its
 * loopback only, unreachable from the hosts); PostgreSQL and the object store of the
 * machine's loopback forwarded onto the bridge (socat). Every node runs signalling and the
 * SFU (`signaling/main.ts`) with the cluster on; the workers host runs `workers/main.ts`.
 *
 * `stop()` stops the processes, then removes the namespaces, the bridge and the data
 * directories; `start()` removes them itself when it fails half-way.
 */
export class LocalCluster {
  readonly network: HostNetwork;
  readonly nodes: ClusterNodeHandle[] = [];
  readonly workers: HostProcess[] = [];
  readonly redisUrl: string;
  readonly #o: LocalClusterOptions;
  readonly #services: HostProcess[] = [];
  #redis: HostProcess | undefined;
  #redisDir: string | undefined;
  readonly #dirs: string[] = [];
  #stopped: Promise<void> | undefined;

  private constructor(network: HostNetwork, o: LocalClusterOptions) {
    this.network = network;
    this.#o = o;
    this.redisUrl = `redis://${network.bridgeAddress}:6379`;
  }

  static async start(o: LocalClusterOptions): Promise<LocalCluster> {
    const hosts = [...o.nodes, ...workerHosts(o.workers), ...(o.hosts ?? [])];
    const network = await HostNetwork.create({ name: o.name, subnet: o.subnet, hosts });
    const cluster = new LocalCluster(network, o);
    try {
      await cluster.#startServices();
      await Promise.all(o.nodes.map((id) => cluster.#startNode(id)));
      await Promise.all(workerHosts(o.workers).map((host) => cluster.#startWorkers(host)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  node(id: string): ClusterNodeHandle {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The environment of every process on `host` (also for a caller that starts one more). */
  envFor(host: string, dataDir: string): Record<string, string> {
    const o = this.#o;
    const address = this.network.address(host);
    const bridge = this.network.bridgeAddress;
    const db = new URL(o.databaseUrl);
    db.hostname = bridge;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: db.toString(),
      REDIS_URL: this.redisUrl,
      SPYGLASS_SECRET: o.secret,
      SPYGLASS_QUEUE_PREFIX: o.queuePrefix,
      SPYGLASS_CLUSTER: '1',
      SPYGLASS_NODE_ID: host,
      SPYGLASS_SOCKET_ADAPTER: 'redis',
      HOST: address,
      PORT: String(o.port ?? 8080),
      SPYGLASS_MEDIA_LISTEN_IP: address,
      SPYGLASS_MEDIA_ANNOUNCED_ADDRESS: address,
      SPYGLASS_RECORDING_RTP_HOST: address,
      SPYGLASS_METRICS_HOST: address,
      SPYGLASS_METRICS_PORT: String(METRICS_PORT),
      SPYGLASS_WORKERS_METRICS_PORT: String(WORKERS_METRICS_PORT),
      ...(o.allowedOrigins?.length ? { SPYGLASS_ALLOWED_ORIGINS: [`http://${address}:${o.port ?? 8080}`, ...o.allowedOrigins].join(',') } : {}),
    };
    if (o.s3) {
      const s3 = new URL(o.s3.endpoint);
      s3.hostname = bridge;
      Object.assign(env, s3StorageEnv({ ...o.s3, endpoint: s3.origin }, o.s3.bucket));
    }
    return { ...env, ...(typeof o.env === 'function' ? o.env(this.network, host) : o.env) };
  }

  /** Stops every process, then removes the hosts, the bridge and the data directories. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await Promise.all(this.nodes.map((n) => n.process.stop()));
      await Promise.all(this.workers.map((w) => w.stop()));
      await Promise.all(this.#services.map((s) => s.stop(5000)));
      await this.network.close();
      for (const d of this.#dirs) rmSync(d, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  #dataDir(host: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), `spyglass-${this.#o.name}-${host}-`));
    this.#dirs.push(dir);
    return dir;
  }

  #spawn(name: string, host: string, entry: string, dataDir: string): HostProcess {
    const child = this.network.spawn(host, [process.execPath, '--import', 'tsx', entry], {
      cwd: root,
      env: this.envFor(host, dataDir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { onOutput } = this.#o;
    return new HostProcess(name, host, child, onOutput && ((t) => onOutput(name, t)));
  }

  async #startNode(id: string): Promise<void> {
    const dataDir = this.#dataDir(id);
    const proc = this.#spawn(`node ${id}`, id, 'signaling/main.ts', dataDir);
    const address = this.network.address(id);
    this.nodes.push({ id, address, url: `http://${address}:${this.#o.port ?? 8080}`, dataDir, process: proc });
    await proc.waitFor(/Spyglass is live at (\S+)/, 90_000);
  }

  async #startWorkers(host: string): Promise<void> {
    const workers = this.#spawn(`workers ${host}`, host, 'workers/main.ts', this.#dataDir(host));
    this.workers.push(workers);
    // Ready once its metrics port answers (it opens just before the queues start).
    let started = false;
    const exited = workers.exited.then((code) => {
      if (!started) throw new Error(`the workers host exited (${code}) while starting:\n${workers.output().slice(-3000)}`);
    });
    exited.catch(() => undefined);
    await Promise.race([waitForPort(this.network.address(host), WORKERS_METRICS_PORT, 90_000), exited]);
    started = true;
  }

  /** The deployment's Redis on the bridge, and the machine's PostgreSQL and object store forwarded onto it. */
  async #startServices(): Promise<void> {
    const bridge = this.network.bridgeAddress;
    await this.startRedis();
    const forwards = [new URL(this.#o.databaseUrl), ...(this.#o.s3 ? [new URL(this.#o.s3.endpoint)] : [])];
    for (const u of forwards) {
      const port = Number(u.port || (u.protocol === 'postgres:' || u.protocol === 'postgresql:' ? 5432 : 80));
      this.#service(`forward ${port}`, 'socat', [`TCP-LISTEN:${port},bind=${bridge},fork,reuseaddr`, `TCP:${u.hostname}:${port}`]);
      await waitForPort(bridge, port, 10_000);
    }
  }

  /**
   * Starts the deployment's Redis (again, after `stopRedis`): on the bridge, keeping its data
   * in an append-only file of its own, so that a Redis that comes back has what it had.
   */
  async startRedis(): Promise<void> {
    if (this.#redis?.running) return;
    this.#redisDir ??= this.#dataDir('redis');
    const args = ['--bind', this.network.bridgeAddress, '--port', '6379', '--dir', this.#redisDir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    this.#redis = this.#service('redis', 'redis-server', [...args, '--protected-mode', 'no', '--logfile', path.join(this.#redisDir, 'redis.log')]);
    await waitForPort(this.network.bridgeAddress, 6379, 10_000);
  }

  /** Kills the deployment's Redis (SIGKILL): an outage, until `startRedis`. */
  async stopRedis(): Promise<void> {
    const redis = this.#redis;
    if (!redis?.running) return;
    redis.kill('SIGKILL');
    await redis.exited;
  }

  #service(name: string, cmd: string, args: string[]): HostProcess {
    // On the machine itself, not in a host; in a process group of its own, so that a Ctrl-C
    // in a terminal does not stop it before the nodes that use it (stop() does, last).
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const { onOutput } = this.#o;
    const proc = new HostProcess(name, 'machine', child, onOutput && ((t) => onOutput(name, t)));
    this.#services.push(proc);
    return proc;
  }
}

/** The host names of `n` workers hosts: w, w2, w3, … */
export function workerHosts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 'w' : `w${i + 1}`));
}

/** Resolves once something accepts TCP connections on `host:port`; throws after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
