import type { LiveNode, NodeInfo } from './NodeRegistry.ts';

/** A node's load as the registry carries it. */
export type NodeLoad = NodeInfo['load'];

/** Consumers per media worker: how loaded a node's SFU is (a node with no worker is full). */
export function consumersPerWorker(load: NodeLoad): number {
  return load.workers.length === 0 ? Number.POSITIVE_INFINITY : load.consumers / load.workers.length;
}

export interface RedirectChoice {
  /** This node: never a target, and nodes registered under its URL are not either. */
  self: { id: string; url: string; load: NodeLoad };
  /** The live nodes (NodeRegistry.list: heartbeats within the TTL). */
  nodes: readonly LiveNode[];
  /** `cluster.maxConsumersPerWorker`: a node at or above it is loaded. */
  maxConsumersPerWorker: number;
  /** Now (ms): an entry whose `expiresAt` passed is dead even if listed a moment ago. */
  now: number;
  /** Whether a node's URL may be handed to a browser (JoinRedirectSchema). */
  validUrl: (url: string) => boolean;
}

/**
 * Where a join to this node should go instead, or undefined to serve it here: when this node
 * is loaded (`consumersPerWorker >= max`), the least-loaded other node that is alive, not
 * draining, below the threshold, with a usable URL of its own (ties: the lower id). As
 * LiveKit's node selector does, with consumers per worker for its system load; unlike it, a
 * join is never refused: with no node below the threshold, this node serves it.
 */
export function chooseRedirect(c: RedirectChoice): LiveNode | undefined {
  const max = c.maxConsumersPerWorker;
  if (consumersPerWorker(c.self.load) < max) return undefined;
  const candidates = c.nodes.filter(
    (n) =>
      n.id !== c.self.id &&
      n.url !== c.self.url &&
      !n.draining &&
      n.expiresAt.getTime() > c.now &&
      consumersPerWorker(n.load) < max &&
      c.validUrl(n.url),
  );
  return candidates.sort((a, b) => consumersPerWorker(a.load) - consumersPerWorker(b.load) || a.id.localeCompare(b.id))[0];
}
