import type { LiveNode } from '../../common/cluster/NodeRegistry.ts';
import { consumersPerWorker, redirectTargets, type NodeLoad } from '../../common/cluster/nodeSelection.ts';
import type { Logger } from '../../common/logger.ts';
import { JoinRedirectSchema } from '../../common/protocol/events.ts';
import type { JoinRedirect } from '../../common/protocol/errors.ts';
import type { JoinRedirector } from '../live/ports.ts';

export interface JoinRedirectsOptions {
  nodeId: string;
  /** This node's URL in the registry (known once it listens). */
  url: () => string | undefined;
  /** This node's load now (read from its workers, fresher than its last heartbeat). */
  load: () => NodeLoad;
  /** Whether an admin drains this node (its last heartbeat read it). */
  draining: () => boolean;
  /** The live nodes (NodeRegistry.list). */
  nodes: () => Promise<LiveNode[]>;
  maxConsumersPerWorker: number;
  logger: Logger;
}

/**
 * Where viewers of this node go instead: a join while this node is loaded
 * (`cluster.maxConsumersPerWorker`) or drained, and the viewers a drain moves (NodeDrain).
 * The registry is read only then, and a registry that does not answer means serving here.
 */
export class JoinRedirects implements JoinRedirector {
  readonly #o: JoinRedirectsOptions;
  #registryFailing = false;

  constructor(o: JoinRedirectsOptions) {
    this.#o = o;
  }

  async target(): Promise<JoinRedirect | undefined> {
    const { draining, maxConsumersPerWorker, logger } = this.#o;
    const load = this.#o.load();
    if (!draining() && consumersPerWorker(load) < maxConsumersPerWorker) return undefined;
    const to = (await this.targets())[0];
    if (to) logger.debug({ to: to.url, consumers: load.consumers, workers: load.workers.length, draining: draining() }, 'redirecting a join');
    return to;
  }

  /** Every node a viewer of this one may go to, least loaded first; none while the registry does not answer. */
  async targets(): Promise<JoinRedirect[]> {
    const { nodeId, maxConsumersPerWorker, logger } = this.#o;
    const url = this.#o.url();
    if (url === undefined) return [];
    let nodes: LiveNode[];
    try {
      nodes = await this.#o.nodes();
      this.#registryFailing = false;
    } catch (err) {
      if (!this.#registryFailing) logger.warn({ err }, 'cannot read the node registry: serving viewers here until it answers');
      this.#registryFailing = true;
      return [];
    }
    // Only URLs the redirect schema accepts are candidates: what is sent is valid by construction.
    const validUrl = (u: string) => JoinRedirectSchema.shape.url.safeParse(u).success;
    const self = { id: nodeId, url, load: this.#o.load(), draining: this.#o.draining() };
    return redirectTargets({ self, nodes, maxConsumersPerWorker, now: Date.now(), validUrl }).map((n) => ({ url: n.url }));
  }
}
