import type { LiveNode } from '../../common/cluster/NodeRegistry.ts';
import { chooseRedirect, consumersPerWorker, type NodeLoad } from '../../common/cluster/nodeSelection.ts';
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
  /** The live nodes (NodeRegistry.list). */
  nodes: () => Promise<LiveNode[]>;
  maxConsumersPerWorker: number;
  logger: Logger;
}

/**
 * Where a join should go when this node is loaded (`cluster.maxConsumersPerWorker`): the
 * registry is read only then, and a registry that does not answer means serving here.
 */
export class JoinRedirects implements JoinRedirector {
  readonly #o: JoinRedirectsOptions;
  #registryFailing = false;

  constructor(o: JoinRedirectsOptions) {
    this.#o = o;
  }

  async target(): Promise<JoinRedirect | undefined> {
    const { nodeId, maxConsumersPerWorker, logger } = this.#o;
    const url = this.#o.url();
    const load = this.#o.load();
    if (url === undefined || consumersPerWorker(load) < maxConsumersPerWorker) return undefined;
    let nodes: LiveNode[];
    try {
      nodes = await this.#o.nodes();
      this.#registryFailing = false;
    } catch (err) {
      if (!this.#registryFailing) logger.warn({ err }, 'cannot read the node registry: loaded, but serving joins here until it answers');
      this.#registryFailing = true;
      return undefined;
    }
    // Only URLs the redirect schema accepts are candidates: what is sent is valid by construction.
    const validUrl = (u: string) => JoinRedirectSchema.shape.url.safeParse(u).success;
    const to = chooseRedirect({ self: { id: nodeId, url, load }, nodes, maxConsumersPerWorker, now: Date.now(), validUrl });
    if (!to) return undefined;
    logger.debug({ to: to.id, consumers: load.consumers, workers: load.workers.length }, 'loaded: redirecting a join');
    return { url: to.url };
  }
}
