import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { startTestNodes, type TestServer } from '../../testkit/server.ts';
import { buildWebClient, launchChromium } from '../lib/browser.ts';
import { collectPath, goLiveStamped, watchStamped, type CollectConfig, type PathLatency } from '../lib/glass.ts';
import { round } from '../lib/proc.ts';
import type { CameraOptions } from '../lib/stamp.browser.ts';

/**
 * Glass-to-glass through origin → edge against one node, in real Chromium (5. of index.ts):
 * two real Spyglass nodes in this process as in cluster.ts (`startTestNodes`: one PostgreSQL
 * database and Redis prefix of the run's own, `cluster.enabled`, one mediasoup worker each,
 * media on 127.0.0.1), but with real WebRTC transports (ICE + DTLS + SRTP) and each serving
 * the web client built from the current source. The latency benchmark's stamped canvas camera
 * (`lib/stamp.browser.ts`) goes live from `/live` on A; one `/watch/:id` page on A (one node)
 * and one on B (B's relay, fed by A's pipe to B: origin → edge) decode the stamp of every
 * frame they present, at the same time, from the same broadcaster. Loopback, one machine.
 */

export interface GlassConfig extends CollectConfig {
  camera: CameraOptions;
}

export interface GlassResult {
  config: GlassConfig;
  /** The viewer on A, the broadcast's origin node. */
  oneNode: PathLatency;
  /** The viewer on B, through B's relay fed by A's pipe. */
  edge: PathLatency;
  /** Edge ÷ one node, of the stamp ages at the viewers' frame callbacks. */
  edgeVsOneNode: { p50: number | null; p95: number | null };
  /** Edge − one node, ms. */
  edgeMinusOneNode: { p50: number | null; p95: number | null };
  /** B's relays and A's pipes to B after the collection: 1 and 1 (the edge viewer watched through the relay). */
  relaysOnB: number;
  pipesAToB: number;
}

export async function measureGlass(config: GlassConfig, log: (line: string) => void): Promise<GlassResult> {
  // Chromium starts while the web client builds and the nodes start.
  const browserStart = launchChromium();
  browserStart.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
  let browser: Browser | undefined;
  let web: { dir: string; remove: () => void } | undefined;
  let db: TestDatabase | undefined;
  let nodes: TestServer[] = [];
  const contexts: BrowserContext[] = [];
  try {
    web = await buildWebClient();
    db = await createTestDatabase();
    const [nodeA, nodeB] = (nodes = await startTestNodes(db.url, ['glass-a', 'glass-b'], {}, { webRoot: web.dir })) as [TestServer, TestServer];
    browser = await browserStart;
    const caster = await goLiveStamped(browser, nodeA.url, config.camera, 'Cascade glass-to-glass');
    contexts.push(caster.context);
    log(`cascade: glass-to-glass: broadcast ${caster.id} live on A`);
    // Both viewers join at once, so neither has watched (and its jitter buffer adapted) longer.
    const opened = await Promise.allSettled([watchStamped(browser, nodeA.url, caster.id), watchStamped(browser, nodeB.url, caster.id)]);
    for (const o of opened) if (o.status === 'fulfilled') contexts.push(o.value.context);
    for (const o of opened) if (o.status === 'rejected') throw o.reason;
    const [onA, onB] = opened.map((o) => (o as PromiseFulfilledResult<{ page: Page }>).value) as [{ page: Page }, { page: Page }];
    const workers = (n: TestServer) => n.pool.workers.map((w) => w.pid);
    const [workerA] = workers(nodeA);
    const [workerB] = workers(nodeB);
    // Both signalling nodes run in this process.
    const pids = (entries: Array<[string, number | undefined]>) => new Map(entries.filter((e): e is [string, number] => e[1] !== undefined));
    const prefixed = (line: string) => log(`cascade: glass-to-glass: ${line}`);
    const [oneNode, edge] = await Promise.all([
      collectPath('one-node', caster.page, onA.page, config, pids([['workerA', workerA], ['signalling', process.pid]]), prefixed),
      collectPath('edge', caster.page, onB.page, config, pids([['workerA', workerA], ['workerB', workerB], ['signalling', process.pid]]), prefixed),
    ]);
    const relaysOnB = nodeB.cluster!.relays.count;
    const pipesAToB = nodeA.cluster!.pipesByNode().get('glass-b') ?? 0;
    const ratio = (e: number | null, o: number | null) => (e === null || o === null || o <= 0 ? null : round(e / o, 3));
    const minus = (e: number | null, o: number | null) => (e === null || o === null ? null : round(e - o, 1));
    return {
      config,
      oneNode,
      edge,
      edgeVsOneNode: { p50: ratio(edge.callbackMs.p50, oneNode.callbackMs.p50), p95: ratio(edge.callbackMs.p95, oneNode.callbackMs.p95) },
      edgeMinusOneNode: { p50: minus(edge.callbackMs.p50, oneNode.callbackMs.p50), p95: minus(edge.callbackMs.p95, oneNode.callbackMs.p95) },
      relaysOnB,
      pipesAToB,
    };
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
    await (browser ?? (await browserStart.catch(() => undefined)))?.close().catch(() => undefined);
    for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
    await db?.drop();
    web?.remove();
  }
}
