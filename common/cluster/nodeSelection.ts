import type { LiveNode, NodeInfo } from './NodeRegistry.ts';

/** A node's load as the registry carries it. */
export type NodeLoad = NodeInfo['load'];

/** Consumers per media worker: how loaded a node's SFU is (a node with no worker is full). */
export function consumersPerWorker(load: NodeLoad): number {
  return load.workers.length === 0 ? Number.POSITIVE_INFINITY : load.consumers / load.workers.length;
}

export interface RedirectChoice {
  /** This node: never a target, and nodes registered under its URL are not either. */
  self: { id: string; url: string; load: NodeLoad; draining: boolean };
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
 * The nodes a viewer of this one may be sent to, least loaded first (ties: the lower id):
 * alive, not draining, below the threshold, with a usable URL that is not this node's.
 */
export function redirectTargets(c: RedirectChoice): LiveNode[] {
  const max = c.maxConsumersPerWorker;
  const candidates = c.nodes.filter(
    (n) =>
      n.id !== c.self.id &&
      n.url !== c.self.url &&
      !n.draining &&
      n.expiresAt.getTime() > c.now &&
      consumersPerWorker(n.load) < max &&
      c.validUrl(n.url),
  );
  return candidates.sort((a, b) => consumersPerWorker(a.load) - consumersPerWorker(b.load) || a.id.localeCompare(b.id));
}

/**
 * Where a join to this node should go instead, or undefined to serve it here: when this node
 * is loaded (`consumersPerWorker >= max`) or drained, the first of {@link redirectTargets}. As
 * LiveKit's node selector does, with consumers per worker for its system load; unlike it, a
 * join is never refused: with no node to send it to, this node serves it.
 */
export function chooseRedirect(c: RedirectChoice): LiveNode | undefined {
  if (!c.self.draining && consumersPerWorker(c.self.load) < c.maxConsumersPerWorker) return undefined;
  return redirectTargets(c)[0];
}
