import { describe, expect, it } from 'vitest';
import type { LiveNode } from '../../../common/cluster/NodeRegistry.ts';
import { chooseRedirect, consumersPerWorker, redirectTargets, type NodeLoad, type RedirectChoice } from '../../../common/cluster/nodeSelection.ts';
import { JoinRedirectSchema } from '../../../common/protocol/events.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

const load = (consumers: number, workers = 2): NodeLoad => ({
  routers: 1,
  consumers,
  workers: Array.from({ length: workers }, (_, index) => ({ index, pid: 1000 + index })),
});

const node = (id: string, consumers: number, o: Partial<LiveNode> = {}): LiveNode => ({
  id,
  url: `https://live.example.org:${8440 + id.charCodeAt(id.length - 1) - 96}`,
  announcedAddress: null,
  startedAt: new Date(NOW - 60_000).toISOString(),
  load: load(consumers),
  draining: false,
  expiresAt: new Date(NOW + 3000),
  ...o,
});

/** This node ("node-s") with 2 workers and `consumers`; the threshold is 100 consumers per worker. */
const choice = (consumers: number, nodes: LiveNode[], draining = false): RedirectChoice => ({
  self: { id: 'node-s', url: 'https://live.example.org:8440', load: load(consumers), draining },
  nodes,
  maxConsumersPerWorker: 100,
  now: NOW,
  validUrl: (u) => JoinRedirectSchema.shape.url.safeParse(u).success,
});

describe('consumersPerWorker', () => {
  it('divides by the workers; a node without workers counts as full', () => {
    expect(consumersPerWorker(load(300, 3))).toBe(100);
    expect(consumersPerWorker(load(0, 0))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('chooseRedirect', () => {
  it('keeps a join here while this node is below the threshold', () => {
    expect(chooseRedirect(choice(199, [node('node-a', 0)]))).toBeUndefined();
  });

  it('at or past the threshold, picks the least-loaded node below it (ties: the lower id)', () => {
    const nodes = [node('node-c', 150), node('node-b', 20), node('node-a', 60), node('node-d', 20)];
    expect(chooseRedirect(choice(200, nodes))?.id).toBe('node-b');
    expect(chooseRedirect(choice(400, [node('node-d', 20), node('node-b', 20)]))?.id).toBe('node-b');
  });

  it('judges per worker, not per node', () => {
    const big = node('node-a', 150, { load: load(150, 8) }); // 18.75 per worker
    expect(chooseRedirect(choice(200, [node('node-b', 40), big]))?.id).toBe('node-a');
  });

  it('never picks itself, a node under its own URL, a draining node, a lapsed one, one at the threshold, or an unusable URL', () => {
    const excluded = [
      node('node-s', 0),
      node('node-a', 0, { url: 'https://live.example.org:8440' }),
      node('node-b', 0, { draining: true }),
      node('node-c', 0, { expiresAt: new Date(NOW) }),
      node('node-d', 200),
      node('node-e', 0, { url: 'https://live.example.org:8445/some/path' }),
      node('node-f', 0, { url: 'javascript:alert(1)' }),
      node('node-g', 0, { load: load(0, 0) }),
    ];
    expect(chooseRedirect(choice(1000, excluded))).toBeUndefined();
    expect(chooseRedirect(choice(1000, [...excluded, node('node-h', 199)]))?.id).toBe('node-h');
  });

  it('threshold 0: no node is below it, so nothing is redirected', () => {
    expect(chooseRedirect({ ...choice(1000, [node('node-a', 0)]), maxConsumersPerWorker: 0 })).toBeUndefined();
  });

  it('a drained node redirects whatever its load, to a node below the threshold; with none it serves', () => {
    expect(chooseRedirect(choice(0, [node('node-a', 250), node('node-b', 150)], true))?.id).toBe('node-b');
    expect(chooseRedirect(choice(0, [node('node-a', 200), node('node-b', 0, { draining: true })], true))).toBeUndefined();
  });
});

describe('redirectTargets', () => {
  it('lists every usable node, least loaded first, whatever this node\'s load', () => {
    const nodes = [node('node-c', 150), node('node-b', 20), node('node-a', 60), node('node-d', 200), node('node-e', 0, { draining: true })];
    expect(redirectTargets(choice(0, nodes)).map((n) => n.id)).toEqual(['node-b', 'node-a', 'node-c']);
    expect(redirectTargets(choice(0, []))).toEqual([]);
  });
});
