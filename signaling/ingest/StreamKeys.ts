import type { Stores } from '../store/index.ts';
import type { StreamKeyAuthority, StreamKeyGrant } from './ports.ts';

/**
 * Stream keys as the ingest endpoints see them (ports.ts): a secret → the grant of its
 * unrevoked key, with its owner read fresh (a deleted account's keys went with it).
 */
export class StreamKeys implements StreamKeyAuthority {
  readonly #stores: Stores;

  constructor(stores: Stores) {
    this.#stores = stores;
  }

  async authorise(secret: string): Promise<StreamKeyGrant | undefined> {
    const key = await this.#stores.streamKeys.authorise(secret);
    if (!key) return undefined;
    const user = await this.#stores.users.findById(key.userId);
    return user && { keyId: key.id, user, title: key.title, visibility: key.visibility };
  }
}
