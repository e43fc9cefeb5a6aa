/**
 * `npm run cluster`: Spyglass as one service on several hosts, on this machine (docs/scale.md,
 * "Try it on one machine"): 3 nodes (signalling + SFU) and 1 workers host, each in a Linux
 * network namespace with its own address on a bridge; a Redis on the bridge; the machine's
 * PostgreSQL (a database of the run's own) and, when Ceph's radosgw is installed, an S3 store
 * (RGW) of the run's own. Prints each node's URL; Ctrl-C stops everything and removes what it
 * created (namespaces, bridge, processes, database, store).
 *
 * Browsers open the nodes through forwards on localhost (http://localhost:8081 → node a, …):
 * a page on localhost is a secure context, so it may use the camera; its media then goes
 * straight to the node's own address. Needs root.
 *
 *   npm run cluster [-- --nodes 3 --port 8081 --name sg --subnet 0 --no-s3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { adminQuery } from './cluster/adminQuery.ts';
import { HostProcess } from './cluster/HostProcess.ts';
import { LocalCluster } from './cluster/LocalCluster.ts';
import { startRgw, type Rgw } from './cluster/rgw.ts';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '8081' },
    name: { type: 'string', default: 'sg' },
    subnet: { type: 'string', default: '0' },
    'no-s3': { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`npm run cluster: ${message}\n`);
  process.exit(1);
}

if (process.getuid?.() !== 0) fail('needs root: it creates network namespaces, a bridge and virtual links (run it as root, e.g. with sudo)');
const nodeCount = Number(args.nodes);
const firstPort = Number(args.port);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 9) fail('--nodes: 1 to 9');
if (!Number.isInteger(firstPort) || firstPort < 1024 || firstPort + nodeCount > 65535) fail('--port: 1024 to 65535');
const nodeIds = 'abcdefghi'.slice(0, nodeCount).split('');
const adminUrl = process.env.SPYGLASS_CLUSTER_PG_ADMIN ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const hasRgw = !args['no-s3'] && commandExists('radosgw');

const cleanups: Array<() => Promise<void>> = [];
let stopping: Promise<void> | undefined;
function stopAll(code: number): Promise<void> {
  stopping ??= (async () => {
    process.stdout.write('\nstopping the cluster…\n');
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => process.stderr.write(`${(err as Error).message}\n`));
    process.stdout.write('stopped; namespaces, bridge, processes, database and store removed\n');
    process.exit(code);
  })();
  return stopping;
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const dbName = `spyglass_cluster_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `create database "${dbName}"`);
  cleanups.push(() => adminQuery(adminUrl, `drop database if exists "${dbName}" with (force)`));
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();

  let rgw: Rgw | undefined;
  if (hasRgw) {
    process.stdout.write('starting an S3 store (Ceph RGW)…\n');
    const started = await startRgw();
    rgw = started;
    cleanups.push(() => started.stop());
  }

  const localUrls = nodeIds.map((_, i) => `http://localhost:${firstPort + i}`);
  process.stdout.write(`starting ${nodeCount} nodes and a workers host…\n`);
  const cluster = await LocalCluster.start({
    name: args.name,
    subnet: Number(args.subnet),
    nodes: nodeIds,
    workers: 1,
    databaseUrl,
    s3: rgw && { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, region: rgw.region, bucket: 'spyglass' },
    secret: randomBytes(32).toString('hex'),
    queuePrefix: `spyglass-${args.name}`,
    allowedOrigins: [...localUrls, ...localUrls.map((u) => u.replace('localhost', '127.0.0.1'))],
    // Each node's URL is its forward, so that redirects and drains send browsers where they can go.
    env: (_network, host) => ({
      LOG_LEVEL: 'warn',
      SPYGLASS_CONNECTIONS_PER_ADDRESS: '200',
      ...(nodeIds.includes(host) ? { SPYGLASS_NODE_URL: localUrls[nodeIds.indexOf(host)] ?? '' } : {}),
    }),
    onOutput: (name, text) => {
      // What the processes say, each line marked with its process (the URLs are printed below).
      const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.includes('Spyglass is live at'));
      if (lines.length > 0) process.stdout.write(lines.map((l) => `[${name}] ${l}\n`).join(''));
    },
  });
  cleanups.push(() => cluster.stop());

  // Forwards on localhost, so that a browser's page is a secure context.
  for (const [i, node] of cluster.nodes.entries()) {
    const port = firstPort + i;
    const child = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `TCP:${node.address}:8080`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const forward = new HostProcess(`forward ${port}`, 'machine', child);
    cleanups.push(() => forward.stop(2000));
  }
  // The URLs are printed once every forward listens (socat takes a moment to bind).
  for (const i of cluster.nodes.keys()) await untilListening(firstPort + i, 10_000);
  for (const n of cluster.nodes) {
    void n.process.exited.then((code) => {
      if (!stopping) process.stdout.write(`node ${n.id} exited (${code ?? 'killed'}); the others carry on\n`);
    });
  }

  const lines = [
    '',
    `  Spyglass cluster "${args.name}": ${nodeCount} nodes and a workers host, each in its own network namespace`,
    '',
    ...cluster.nodes.map((n, i) => `  node ${n.id}   ${localUrls[i]}   (host ${n.address}, namespace ${cluster.network.namespace(n.id)}, pid ${n.process.pid})`),
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the cluster has one workers host
    `  workers  host ${cluster.network.address('w')}, namespace ${cluster.network.namespace('w')}, pid ${cluster.workers[0]!.pid}`,
    '',
    `  Redis ${cluster.redisUrl}   PostgreSQL database ${dbName}   storage ${rgw ? `S3 (RGW at ${rgw.endpoint})` : 'each host its own disk (no radosgw installed: replays stay on the workers host)'}`,
    `  kill -9 a node's pid to see its viewers move, or drain it (\`npm run admin -- node drain <id>\`); \`npm run admin -- nodes\` with REDIS_URL=${cluster.redisUrl} SPYGLASS_QUEUE_PREFIX=spyglass-${args.name}`,
    '',
    '  Ctrl-C stops everything and removes the namespaces, the bridge and the processes.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (err) {
  process.stderr.write(`npm run cluster: ${(err as Error).message}\n`);
  await stopAll(1);
}

function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds; throws after `timeoutMs`. */
async function untilListening(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`the forward on localhost:${port} did not listen within ${timeoutMs} ms`);
    await sleep(50);
  }
}
