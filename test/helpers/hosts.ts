import { randomBytes, randomInt } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { HostNetwork } from '../../scripts/cluster/HostNetwork.ts';
import { LocalCluster, type LocalS3 } from '../../scripts/cluster/LocalCluster.ts';
import { TcpBalancer } from './balancer.ts';
import { inboundStats, launchChromium, trackPeerConnections, videoFramesByStream } from '../../testkit/browser.ts';
import { goLiveInPage, signUpInPage, waitUntilSending } from '../../testkit/liveUi.ts';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { testQueuePrefix } from '../../testkit/server.ts';
import { freePort } from '../../testkit/supervisor.ts';

/** The HTTP port of every node, on its own address. */
export const NODE_PORT = 8080;

export interface HostsOptions {
  /** A short name for the test's namespaces (2 letters; a random number is added). */
  name: string;
  nodes: string[];
  /** Workers hosts (default none). */
  workers?: number;
  /** Hosts with nothing started on them, after the nodes and workers hosts: for the test's own processes. */
  hosts?: string[];
  s3?: LocalS3;
  /** One TCP balancer on the machine's loopback per entry: the nodes it fails over between, in order. */
  routes: string[][];
  /**
   * Each node's URL (`cluster.nodeUrl`, where redirects and moves send viewers) is its
   * balancer's: needs one route per node, `routes[i]` being `[nodes[i]]`. Node URLs then share
   * the pages' host name, as a deployment's must (docs/operations.md).
   */
  nodeUrls?: boolean;
  /** More environment for the nodes; a function of the network and the host for values that name addresses. */
  env?: Record<string, string> | ((network: HostNetwork, host: string) => Record<string, string>);
}

/**
 * A deployment on hosts in network namespaces (scripts/cluster/LocalCluster.ts) for a test:
 * a PostgreSQL database of its own, TCP balancers on the machine's loopback in front of the
 * nodes (so that pages are on a secure origin and fail over as behind a deployment's
 * balancer), and Chromium. Heartbeat 500 ms, node TTL 2 s, recording off unless `env` says.
 */
export class Hosts {
  readonly cluster: LocalCluster;
  readonly balancers: TcpBalancer[];
  readonly browser: Browser;
  readonly #db: TestDatabase;

  private constructor(cluster: LocalCluster, balancers: TcpBalancer[], browser: Browser, db: TestDatabase) {
    this.cluster = cluster;
    this.balancers = balancers;
    this.browser = browser;
    this.#db = db;
  }

  static async start(o: HostsOptions): Promise<Hosts> {
    const db = await createTestDatabase();
    const balancers: TcpBalancer[] = [];
    let cluster: LocalCluster | undefined;
    try {
      const ports = await Promise.all(o.routes.map(() => freePort()));
      const nodeUrl = new Map<string, string>();
      if (o.nodeUrls) {
        for (const [i, id] of o.nodes.entries()) {
          if (o.routes[i]?.length !== 1 || o.routes[i][0] !== id) throw new Error('nodeUrls needs routes[i] = [nodes[i]]');
          nodeUrl.set(id, `http://127.0.0.1:${ports[i]}`);
        }
      }
      cluster = await LocalCluster.start({
        name: `${o.name}${randomInt(0, 1000)}`,
        subnet: randomInt(1, 200),
        nodes: o.nodes,
        workers: o.workers ?? 0,
        hosts: o.hosts,
        s3: o.s3,
        databaseUrl: db.url,
        secret: randomBytes(32).toString('hex'),
        queuePrefix: testQueuePrefix(),
        port: NODE_PORT,
        allowedOrigins: ports.map((p) => `http://127.0.0.1:${p}`),
        env: (network, host) => ({
          LOG_LEVEL: 'warn',
          SPYGLASS_RECORDING: 'false',
          SPYGLASS_CONNECTIONS_PER_ADDRESS: '1000',
          // One media worker per node: the hosts share this machine's cores.
          SPYGLASS_MEDIASOUP_WORKERS: '1',
          SPYGLASS_HEARTBEAT_MS: '500',
          SPYGLASS_NODE_TTL_MS: '2000',
          ...(nodeUrl.has(host) ? { SPYGLASS_NODE_URL: nodeUrl.get(host)! } : {}),
          ...(typeof o.env === 'function' ? o.env(network, host) : o.env),
        }),
      });
      const c = cluster;
      for (const [i, route] of o.routes.entries()) {
        balancers.push(await TcpBalancer.start(route.map((id) => ({ host: c.node(id).address, port: NODE_PORT })), ports[i]));
      }
      return new Hosts(cluster, balancers, await launchChromium(), db);
    } catch (err) {
      for (const b of balancers) await b.close();
      await cluster?.stop();
      await db.drop();
      throw err;
    }
  }

  /** A page in a context of its own (its own cookies), on balancer `route`, with its peer connections tracked. */
  async page(route: number): Promise<Page> {
    const context = await this.browser.newContext({ baseURL: this.balancers[route]!.url });
    const page = await context.newPage();
    await trackPeerConnections(page);
    return page;
  }

  /** A broadcaster signs up on balancer `route`'s page and goes live; resolves once it sends, with when (performance.now()). */
  async goLive(route: number, username: string, title: string): Promise<{ host: Page; id: string; t0: number }> {
    const host = await this.page(route);
    await signUpInPage(host, username);
    const id = await goLiveInPage(host, title);
    await waitUntilSending(host);
    return { host, id, t0: performance.now() };
  }

  /** Closes the browser and the balancers, stops the deployment (its Redis goes with it) and drops the database. */
  async stop(): Promise<void> {
    await this.browser.close();
    for (const b of this.balancers) await b.close();
    await this.cluster.stop();
    await this.#db.drop();
  }
}

/** Frames `page` decodes over `ms`, and the longest stretch (ms) in which it decoded none (polled every 50 ms). */
export async function framesOver(page: Page, ms: number): Promise<{ frames: number; longestFreezeMs: number }> {
  let last = await videoFramesByStream(page);
  let frames = 0;
  let lastChange = performance.now();
  let longest = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await page.waitForTimeout(50);
    const now = await videoFramesByStream(page);
    const t = performance.now();
    const more = Object.entries(now).reduce((sum, [k, v]) => sum + Math.max(0, v - (last[k] ?? 0)), 0);
    if (more > 0) {
      frames += more;
      longest = Math.max(longest, t - lastChange);
      lastChange = t;
    }
    last = now;
  }
  longest = Math.max(longest, performance.now() - lastChange);
  return { frames, longestFreezeMs: Math.round(longest) };
}

/**
 * Milliseconds from `t0` until `page` decodes a frame of a video stream it did not have
 * before (`before`: its streams then), i.e. the stream of its rejoin. Polled every 50 ms.
 */
export async function newStreamDecodingAt(page: Page, before: Record<string, number>, t0: number, timeoutMs: number): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    const now = await videoFramesByStream(page);
    if (Object.entries(now).some(([k, v]) => !(k in before) && v > 0)) return Math.round(performance.now() - t0);
    await page.waitForTimeout(50);
  }
  throw new Error(`no frame of a new stream within ${timeoutMs} ms`);
}

/** Resolves once `page` decodes video steadily: frames decoded pass 10, then grow by 10 more. */
export async function decodingSteadily(page: Page): Promise<void> {
  await expect.poll(async () => (await inboundStats(page)).framesDecoded, { timeout: 20_000, interval: 250 }).toBeGreaterThan(10);
  const first = (await inboundStats(page)).framesDecoded;
  await expect.poll(async () => (await inboundStats(page)).framesDecoded, { timeout: 10_000 }).toBeGreaterThan(first + 10);
}
