import { AppError, RedirectError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { BroadcastSummary, EndReason, Request, Responses } from '../../common/protocol/events.ts';
import type { ConsumerOptions, MediaKind, RtpParameters, TransportOptions } from '../../common/protocol/media.ts';
import type { RtpIngestEndpoint } from '../../sfu/rtpIngest.ts';
import { Broadcast } from '../../sfu/Broadcast.ts';
import type { Viewer } from '../../sfu/Viewer.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import type { RateLimits, Throttle } from '../throttle/RateLimits.ts';
import type { BroadcastDirectory } from '../../common/cluster/BroadcastDirectory.ts';
import type { EdgeRelays } from '../cluster/EdgeRelays.ts';
import { OriginLease } from '../cluster/OriginLease.ts';
import { LiveBroadcast, toSummary } from './LiveBroadcast.ts';
import { LiveChat } from './LiveChat.ts';
import { Peer } from './Peer.ts';
import type { GoLiveListener, JoinRedirector, Notifier, Recorder, SunsetGate, ViewerTally } from './ports.ts';
import type { RelayedBroadcast } from './RelayedBroadcast.ts';
import type { TurnCredentials } from './TurnCredentials.ts';

/** A broadcast served here: as its origin (LiveBroadcast) or through a pipe from its origin (RelayedBroadcast). */
type OnAir = LiveBroadcast | RelayedBroadcast;

export interface LiveServiceOptions {
  stores: Stores;
  pool: WorkerPool;
  logger: Logger;
  /** Seconds a broadcast waits for its broadcaster to come back. */
  graceSeconds: number;
  maxViewersPerRouter: number;
  /** Where chat and heart counters live (LiveChat). */
  rateLimits: RateLimits;
  chatBurst: number;
  chatWindowSeconds: number;
  heartsPerSecond: number;
  heartFlushMs: number;
  /** Seconds a new broadcast may go without media before it ends with 'no-media'; 0 never ends it. */
  noMediaTimeoutSeconds: number;
  /** Limits on going live, per user and per client address (absent: unlimited). */
  goLiveLimits?: { perUser: Throttle; perAddress: Throttle } | undefined;
  /** How the service reaches its clients (signaling/socket/SocketNotifier.ts). */
  notifier: Notifier;
  /** Records every broadcast (absent when recording is disabled). */
  recorder?: Recorder | undefined;
  /** Enforces the sunset phase (docs/sunset.md) on going live, chat and hearts. */
  sunset: SunsetGate;
  /** True while an admin drains this node: no new broadcast starts here (docs/scale.md). */
  draining?: () => boolean;
  /**
   * This node in the broadcast directory: every broadcast it hosts is claimed there (one
   * host: a LocalBroadcastDirectory and any id).
   */
  origin: { nodeId: string; directory: BroadcastDirectory; renewMs: number };
  /** Adds up viewer counts over nodes (one host: signaling/live/ports.ts localTally). */
  tally: ViewerTally;
  /** With a shared tally, how often counts are added up again. */
  countRefreshMs: number;
  /**
   * Several nodes: relays of broadcasts hosted elsewhere, for this node's viewers. With them a
   * broadcaster may also resume here a broadcast whose origin died (this node becomes its origin).
   */
  relays?: EdgeRelays | undefined;
  /** Several nodes: sends joins to a less-loaded node while this one is loaded (docs/protocol.md). */
  redirects?: JoinRedirector | undefined;
  /** TURN servers and credentials handed out with every transport (absent: no TURN configured). */
  turn?: TurnCredentials | undefined;
  /** Told of every broadcast that goes live here (followers' notifications); absent: nobody is. */
  goLive?: GoLiveListener | undefined;
  /** A viewer's page reported its join-to-first-frame time (seconds), watching on the origin node or through a relay (/metrics). */
  firstFrame?: ((seconds: number, served: 'origin' | 'relay') => void) | undefined;
}

/** Recent chat sent to a viewer when they join. */
const RECENT_CHAT = 50;

/**
 * The one answer, code and message, for a broadcast id that does not exist or that the
 * caller may not see: nothing tells a private broadcast apart from a missing one.
 */
const notFound = () => new AppError('NOT_FOUND', 'broadcast not found');

/**
 * The live domain's front: the registry of the broadcasts on air in this process (each a
 * LiveBroadcast, which owns its media, timers, viewers and end; the map entry goes when it
 * closes) and of the connections (Peer), plus authorisation. Socket handlers call exactly one
 * method each; every method authorises its caller first, then hands the work to the broadcast
 * or to the chat (LiveChat).
 *
 * Authorisation runs in one order for every request that names a broadcast: first what does
 * not depend on the id (sunset phase, signed in), then `#visible` (NOT_FOUND for an id the
 * caller may not see, exactly as for an unknown one), and only then answers that depend on
 * the broadcast (FORBIDDEN, BROADCAST_ENDED, NOT_JOINED, …).
 */
export class LiveService {
  readonly #o: LiveServiceOptions;
  readonly #log: Logger;
  readonly #live = new Map<BroadcastId, LiveBroadcast>();
  readonly #peers = new Map<string, Peer>();
  readonly #chat: LiveChat;
  #closed = false;

  constructor(options: LiveServiceOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#chat = new LiveChat({ ...options, onAir: (id) => this.#here(id) });
  }

  // ------------------------------------------------------------ peers --

  /** A connection: a socket, or an encoder's (`encoder`: signaling/ingest/IngestService.ts). */
  connect(peerId: string, user: UserRecord | undefined, address: string, encoder?: 'whip' | 'rtmp'): Peer {
    const peer = new Peer(peerId, user, address, encoder);
    this.#peers.set(peerId, peer);
    return peer;
  }

  /** A connection went away: viewers leave; a broadcaster's broadcast waits out its grace period. */
  disconnect(peerId: string): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    for (const broadcastId of peer.watching) this.#here(broadcastId)?.removeViewer(peer.id);
    peer.watching.clear();
    if (peer.broadcasting) this.#live.get(peer.broadcasting)?.broadcasterLeft(peer.id);
  }

  /** Every viewer this process serves: its connection and the broadcast it watches (what a drain moves). */
  viewersHere(): Array<{ peerId: string; broadcastId: BroadcastId }> {
    return [...this.#peers.values()].flatMap((peer) => [...peer.watching].map((broadcastId) => ({ peerId: peer.id, broadcastId })));
  }

  /** Live summary of a broadcast, if it is on air here. */
  liveSummary(id: BroadcastId): BroadcastSummary | undefined {
    return this.#here(id)?.summary();
  }

  /** The broadcast if it is on air in this process (what the recording tap needs of it). */
  onAir(id: BroadcastId): LiveBroadcast | undefined {
    return this.#live.get(id);
  }

  /** Tells the broadcast's room (the broadcaster above all) how its recording goes. */
  notifyRecording(id: BroadcastId, state: 'recording' | 'stopped', reason: string | null): void {
    if (this.#live.has(id)) this.#o.notifier.toBroadcast(id, 'recording:status', { broadcastId: id, state, reason });
  }

  /** Number of viewers of a live broadcast (0 when not on air here). */
  viewerCount(id: BroadcastId): number {
    return this.#here(id)?.viewerCount ?? 0;
  }

  // ------------------------------------------------------- broadcaster --

  /**
   * Goes live. An encoder's connection (Peer.encoder) starts it with its stream key, which the
   * broadcast keeps (a resumed ingest finds it by that).
   */
  async start(peer: Peer, req: Request<'broadcast:start'>, streamKeyId?: string): Promise<Responses['broadcast:start']> {
    this.#o.sunset.assertAllowed('broadcast');
    const user = this.#requireUser(peer, 'sign in to go live');
    await this.#assertNotSuspended(user, 'go live');
    if (this.#o.draining?.()) throw new AppError('UNAVAILABLE', 'this server is being drained: reconnect and go live again (another server will take it)');
    if (peer.broadcasting && this.#live.has(peer.broadcasting)) {
      throw new AppError('ALREADY_LIVE', 'this connection is already broadcasting');
    }
    const existing = await this.#o.stores.broadcasts.findLiveByOwner(user.id);
    if (existing) {
      throw new AppError('ALREADY_LIVE', `you are already live in "${existing.title}" (${existing.id}); resume or stop it first`);
    }
    const inviteeIds = await this.#resolveInvitees(req.visibility === 'private' ? req.invitees : [], user);
    // Counted once a go-live is otherwise acceptable, so a double click on "Go live" costs nothing.
    await this.#o.goLiveLimits?.perUser.take(user.id);
    await this.#o.goLiveLimits?.perAddress.take(peer.address);
    await this.#o.recorder?.assertCanRecord();
    const record = await this.#o.stores.broadcasts.create({
      ownerId: user.id,
      title: req.title,
      visibility: req.visibility,
      inviteeIds,
      originNode: this.#o.relays ? this.#o.origin.nodeId : null,
      source: peer.encoder ?? 'browser',
      streamKeyId: peer.encoder ? (streamKeyId ?? null) : null,
    });
    let media: Broadcast;
    let lease: OriginLease | null = null;
    try {
      lease = await this.#takeLease(record.id);
      if (!lease) throw new AppError('INTERNAL', 'a new broadcast was claimed by another node');
      media = await this.#createMedia(record.id);
    } catch (err) {
      await lease?.release();
      await this.#o.stores.broadcasts.end(record.id, 'media-error');
      throw err;
    }
    const live = this.#add(record, media, peer.id, lease);
    peer.broadcasting = record.id;
    // Suspended while this start was under way: the suspension found nothing live to end.
    if (await this.#o.stores.suspensions.isSuspended(user.id)) {
      await live.close('account-suspended');
      await this.#assertNotSuspended(user, 'go live');
    }
    try {
      await this.#o.recorder?.broadcastStarted(record.id);
    } catch (err) {
      await live.close('recording-unavailable');
      throw err;
    }
    this.#log.info({ broadcastId: record.id, userId: user.id, visibility: record.visibility }, 'broadcast started');
    this.#o.goLive?.broadcastStarted(record);
    return { broadcast: live.summary(), rtpCapabilities: media.rtpCapabilities };
  }

  /** The broadcaster comes back (new connection, or after its media worker died). */
  async resume(peer: Peer, { broadcastId }: Request<'broadcast:resume'>): Promise<Responses['broadcast:resume']> {
    if (peer.user) await this.#assertNotSuspended(peer.user, 'go live');
    const live = await this.#requireOwnedLive(peer, broadcastId, 'resume', (record) => {
      this.#assertSameSender(peer, record);
      return this.#adopt(record, peer);
    });
    this.#assertSameSender(peer, live.record);
    const previous = live.broadcasterPeerId;
    if (previous && previous !== peer.id) {
      // The old connection has not been noticed as gone yet: the newest one wins.
      const old = this.#peers.get(previous);
      if (old) old.broadcasting = undefined;
    }
    peer.broadcasting = broadcastId;
    await live.resumeBroadcaster(peer.id);
    this.#log.info({ broadcastId }, 'broadcaster resumed');
    return { broadcast: live.summary(), rtpCapabilities: live.media.rtpCapabilities };
  }

  async stop(peer: Peer, { broadcastId }: Request<'broadcast:stop'>): Promise<Responses['broadcast:stop']> {
    const user = this.#requireUser(peer, 'sign in to stop a broadcast');
    const { record, live } = await this.#visible(peer, broadcastId);
    if (record.ownerId !== user.id) throw new AppError('FORBIDDEN', 'only the broadcaster can stop this broadcast');
    if (live) return { broadcast: await live.close('stopped') };
    // Left live by a crash of another process, or already ended: make sure it is ended.
    const ended = (await this.#o.stores.broadcasts.end(broadcastId, 'stopped')) ?? record;
    return { broadcast: toSummary(ended, 0) };
  }

  async produce(peer: Peer, req: Request<'produce'>): Promise<Responses['produce']> {
    const live = await this.#requireBroadcasterOf(peer, req.broadcastId);
    const { producerId } = await live.media.produce({ transportId: req.transportId, kind: req.kind, rtpParameters: req.rtpParameters });
    this.#log.info({ broadcastId: live.id, kind: req.kind, producerId }, 'producing');
    return { producerId };
  }

  /** Plain RTP into the broadcast from its broadcaster's connection (an encoder through ffmpeg: signaling/ingest/). */
  async produceRtp(
    peer: Peer,
    req: { broadcastId: BroadcastId; kind: MediaKind; rtpParameters: RtpParameters },
  ): Promise<{ producerId: string; rtp: RtpIngestEndpoint }> {
    const live = await this.#requireBroadcasterOf(peer, req.broadcastId);
    const produced = await live.media.produceRtp({ kind: req.kind, rtpParameters: req.rtpParameters });
    this.#log.info({ broadcastId: live.id, kind: req.kind, producerId: produced.producerId }, 'producing plain RTP');
    return produced;
  }

  // ------------------------------------------------------------ viewer --

  /**
   * Watches a broadcast: from its origin when that is this node, else through this node's relay
   * of it. A join this node could serve but that came not by a redirect is sent to a
   * less-loaded node (RedirectError) while this one is loaded.
   */
  async join(peer: Peer, { broadcastId, redirected, transport, rtpCapabilities }: Request<'broadcast:join'>): Promise<Responses['broadcast:join']> {
    const { record, live } = await this.#visible(peer, broadcastId);
    if (record.status === 'ended') throw new AppError('BROADCAST_ENDED', 'this broadcast has ended');
    const elsewhere = redirected ? undefined : await this.#o.redirects?.target();
    if (elsewhere) throw new RedirectError(elsewhere);
    const here: OnAir | undefined = live ?? (this.#o.relays ? await this.#o.relays.relay(record) : undefined);
    if (!here) throw new AppError('BROADCAST_ENDED', 'this broadcast has ended');
    await here.addViewer(peer.id, peer.viewerKey, peer.user?.id, peer.payloadNumbering);
    peer.watching.add(broadcastId);
    peer.firstFrameDue.add(broadcastId);
    // The transport and its consumers (worker requests) and the chat (a store read) at the same time.
    const media = async () => {
      if (!transport) return {};
      const viewer = this.#viewerIn(peer, here);
      const options = await viewer.createTransport();
      if (!rtpCapabilities) return { options };
      // Capabilities that decode none of it (a Device loaded for another router's codecs): no
      // consumers in the answer; the client loads the right Device and sends `consume`.
      const consumers = await viewer.consume(options.id, rtpCapabilities).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'VALIDATION_FAILED') return undefined;
        throw err;
      });
      return { options, consumers };
    };
    const [{ options, consumers }, recentChat, { slowModeSeconds, followersOnly }] = await Promise.all([
      media(),
      this.#o.stores.chat.recent(broadcastId, RECENT_CHAT),
      this.#o.stores.moderation.chatSettings(broadcastId),
    ]);
    // A relay's status is the origin's, as stored (fresher than the relay's copy).
    return {
      broadcast: toSummary(record, here.viewerCount),
      rtpCapabilities: here.media.rtpCapabilities,
      recentChat,
      slowModeSeconds,
      followersOnly,
      ...(options ? { transport: this.#o.turn ? { ...options, ...this.#o.turn.grant() } : options } : {}),
      ...(consumers ? { consumers } : {}),
    };
  }

  leave(peer: Peer, { broadcastId }: Request<'broadcast:leave'>): Responses['broadcast:leave'] {
    peer.watching.delete(broadcastId);
    peer.firstFrameDue.delete(broadcastId);
    this.#here(broadcastId)?.removeViewer(peer.id);
    return {};
  }

  async consume(peer: Peer, req: Request<'consume'>): Promise<{ consumers: ConsumerOptions[] }> {
    const viewer = await this.#requireViewer(peer, req.broadcastId);
    return { consumers: await viewer.consume(req.transportId, req.rtpCapabilities) };
  }

  async resumeConsumer(peer: Peer, req: Request<'consumer:resume'>): Promise<Responses['consumer:resume']> {
    await (await this.#requireViewer(peer, req.broadcastId)).resumeConsumer(req.consumerId);
    return {};
  }

  /**
   * The caller's viewer of a broadcast it joined, authorised as every request that names a
   * broadcast: for WHEP (signaling/ingest/whep/), which negotiates its media in SDP instead of the
   * socket.io requests and so drives its viewer itself.
   */
  viewerOf(peer: Peer, broadcastId: BroadcastId): Promise<Viewer> {
    return this.#requireViewer(peer, broadcastId);
  }

  // --------------------------------------------------------- transports --

  /**
   * A send transport for the broadcaster's connection, a receive transport for a viewer's; with
   * TURN configured, the answer carries TURN servers and fresh credentials — only once the
   * caller was allowed the transport.
   */
  async createTransport(peer: Peer, { broadcastId }: Request<'transport:create'>): Promise<TransportOptions> {
    const { live } = await this.#visible(peer, broadcastId);
    const options =
      live && live.broadcasterPeerId === peer.id
        ? await live.media.createSendTransport()
        : await this.#viewerIn(peer, live ?? this.#o.relays?.get(broadcastId)).createTransport();
    return this.#o.turn ? { ...options, ...this.#o.turn.grant() } : options;
  }

  async connectTransport(peer: Peer, req: Request<'transport:connect'>): Promise<Responses['transport:connect']> {
    const { live } = await this.#visible(peer, req.broadcastId);
    if (live && live.broadcasterPeerId === peer.id) {
      await live.media.connectSendTransport(req.transportId, req.dtlsParameters);
    } else {
      await this.#viewerIn(peer, live ?? this.#o.relays?.get(req.broadcastId)).connectTransport(req.transportId, req.dtlsParameters);
    }
    return {};
  }

  // ------------------------------------------------------ chat, hearts --

  async chat(peer: Peer, req: Request<'chat:send'>): Promise<Responses['chat:send']> {
    this.#o.sunset.assertAllowed('chat');
    const user = this.#requireUser(peer, 'sign in to chat');
    // Before the broadcast is looked up: the answer says nothing about the id.
    await this.#assertNotSuspended(user, 'chat');
    const live = await this.#requireParticipant(peer, req.broadcastId);
    return { message: await this.#chat.send(live, user, req.text) };
  }

  async heart(peer: Peer, { broadcastId }: Request<'heart:send'>): Promise<Responses['heart:send']> {
    this.#o.sunset.assertAllowed('heart');
    const live = await this.#requireParticipant(peer, broadcastId);
    await this.#chat.heart(live, peer.actorKey);
    return {};
  }

  /**
   * A viewer's page reports how long its join took to present the first video frame: counted
   * in /metrics (no per-user label), once per join, from a viewer of that broadcast only. The
   * figure is the client's word: bounded (≤ 120 s), never stored.
   */
  async firstFrame(peer: Peer, { broadcastId, ms }: Request<'stats:first-frame'>): Promise<Responses['stats:first-frame']> {
    const { live } = await this.#visible(peer, broadcastId);
    this.#viewerIn(peer, live ?? this.#o.relays?.get(broadcastId));
    if (!peer.firstFrameDue.delete(broadcastId)) throw new AppError('WRONG_STATE', 'this join’s first frame was reported already');
    this.#o.firstFrame?.(ms / 1000, live ? 'origin' : 'relay');
    return {};
  }

  // -------------------------------------------------------- moderation --

  /**
   * `userId` was blocked by `ownerId`: each connection of that user watching one of the owner's
   * broadcasts on this node stops watching it (its media closed, its room left) and is told
   * `broadcast:removed`. Only this node: other nodes are asked by the caller (signaling/moderation/).
   * Returns how many connections it removed.
   */
  evict(ownerId: UserId, userId: UserId): number {
    let removed = 0;
    for (const peer of this.#peers.values()) {
      if (peer.user?.id !== userId) continue;
      for (const broadcastId of [...peer.watching]) {
        const here = this.#here(broadcastId);
        if (!here || here.record.ownerId !== ownerId) continue;
        peer.watching.delete(broadcastId);
        peer.firstFrameDue.delete(broadcastId);
        here.removeViewer(peer.id);
        this.#o.notifier.leave(peer.id, broadcastId);
        this.#o.notifier.toPeer(peer.id, 'broadcast:removed', { broadcastId });
        removed += 1;
      }
    }
    if (removed > 0) this.#log.info({ ownerId, userId, connections: removed }, 'removed a blocked user from the broadcaster’s broadcasts');
    return removed;
  }

  /**
   * Ends a broadcast for an admin (docs/moderation.md): closed at once when it is on air here
   * (its viewers and broadcaster are told `reason`), else ended in the database (left live by
   * a crash, or on air on another node: the caller tells the other nodes, whose `endHere`
   * closes it). Returns whether it was live.
   */
  async endBroadcast(id: BroadcastId, reason: 'ended-by-admin' | 'account-suspended'): Promise<boolean> {
    if (await this.endHere(id, reason)) return true;
    return this.#o.stores.broadcasts.endIfLive(id, reason);
  }

  /** Closes the broadcast if it is on air on this node (an admin ended it; its clients are told `reason`); false if it is not. */
  async endHere(id: BroadcastId, reason: 'ended-by-admin' | 'account-suspended'): Promise<boolean> {
    const live = this.#live.get(id);
    if (!live) return false;
    await live.close(reason);
    return true;
  }

  /** Ends the user's broadcast that is live, if any (their account was just suspended). Returns its id. */
  async endLiveOf(userId: UserRecord['id'], reason: 'account-suspended'): Promise<BroadcastId | undefined> {
    const record = await this.#o.stores.broadcasts.findLiveByOwner(userId);
    if (!record) return undefined;
    await this.endBroadcast(record.id, reason);
    return record.id;
  }

  // ----------------------------------------------------------- closing --

  /**
   * Ends every live broadcast and keeps serving (the sunset's read-only switch): viewers
   * and broadcasters are told why, and each broadcast is recorded up to here.
   */
  async endAll(reason: EndReason): Promise<number> {
    const all = [...this.#live.values()];
    await Promise.allSettled(all.map((live) => live.close(reason)));
    return all.length;
  }

  /** Ends every live broadcast (process shutdown). Idempotent. */
  async close(reason: EndReason = 'server-shutdown'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#live.values()].map((live) => live.close(reason)));
    this.#o.relays?.close();
    this.#chat.close();
  }

  // ----------------------------------------------------------- private --

  /** Puts a new broadcast on air here; it leaves the map when it closes, whoever closes it. */
  #add(record: BroadcastRecord, media: Broadcast, broadcasterPeerId: string, lease: OriginLease): LiveBroadcast {
    const live = new LiveBroadcast({
      record,
      media,
      broadcasterPeerId,
      createMedia: () => this.#createMedia(record.id),
      stores: this.#o.stores,
      notifier: this.#o.notifier,
      tally: this.#o.tally,
      countRefreshMs: this.#o.countRefreshMs,
      lease,
      recorder: this.#o.recorder,
      logger: this.#log.child({ broadcastId: record.id }),
      graceSeconds: this.#o.graceSeconds,
      noMediaTimeoutSeconds: this.#o.noMediaTimeoutSeconds,
    });
    // Off the map as soon as it starts ending: from then on requests find it ended.
    live.on('ending', () => {
      this.#chat.ending();
      if (this.#live.get(live.id) === live) this.#live.delete(live.id);
      for (const peer of this.#peers.values()) {
        peer.watching.delete(live.id);
        if (peer.broadcasting === live.id) peer.broadcasting = undefined;
      }
    });
    this.#live.set(record.id, live);
    return live;
  }

  /** SUSPENDED, with the admin's reason, for a suspended account (read from the store on every call: it holds at once). */
  async #assertNotSuspended(user: UserRecord, action: 'go live' | 'chat'): Promise<void> {
    const suspension = await this.#o.stores.suspensions.get(user.id);
    if (suspension) throw new AppError('SUSPENDED', `your account is suspended, so you cannot ${action}: ${suspension.reason}`);
  }

  /** An encoder's broadcast is resumed by an encoder only (the go-live page shows it without taking its media), a browser's by a browser only. */
  #assertSameSender(peer: Peer, record: BroadcastRecord): void {
    if ((record.source === 'browser') === (peer.encoder === undefined)) return;
    throw new AppError('WRONG_STATE', record.source === 'browser' ? 'this broadcast is sent from a browser' : 'this broadcast is sent by an encoder: reconnect the encoder, or end it');
  }

  #requireUser(peer: Peer, message: string): UserRecord {
    if (!peer.user) throw new AppError('UNAUTHENTICATED', message);
    return peer.user;
  }

  /**
   * The broadcast if the caller may see it (public, or theirs, or they are invited, and its
   * broadcaster has not blocked them), with its live state here; otherwise NOT_FOUND exactly as
   * for an id that does not exist. A broadcast on air is read from memory, any other id costs one
   * primary-key lookup; a signed-in caller who is not the owner costs one more (the block list).
   */
  async #visible(peer: Peer, broadcastId: BroadcastId): Promise<{ record: BroadcastRecord; live: LiveBroadcast | undefined }> {
    const live = this.#live.get(broadcastId);
    const record = live ? live.record : await this.#o.stores.broadcasts.get(broadcastId);
    if (!record || !this.#o.stores.broadcasts.canView(record, peer.user?.id)) throw notFound();
    // Someone the broadcaster blocked finds none of their broadcasts (docs/moderation.md).
    if (peer.user && record.ownerId !== peer.user.id && (await this.#o.stores.moderation.isBlocked(record.ownerId, peer.user.id))) throw notFound();
    return { record, live };
  }

  /** The caller's own broadcast on air here; `adopt` may take one that is live but hosted nowhere here. */
  async #requireOwnedLive(
    peer: Peer,
    broadcastId: BroadcastId,
    action: 'resume' | 'produce',
    adopt?: (record: BroadcastRecord) => Promise<LiveBroadcast | undefined>,
  ): Promise<LiveBroadcast> {
    const user = this.#requireUser(peer, 'sign in to broadcast');
    const { record, live } = await this.#visible(peer, broadcastId);
    if (record.ownerId !== user.id) {
      throw new AppError('FORBIDDEN', action === 'resume' ? 'only the broadcaster can resume this broadcast' : 'only the broadcaster can send media into this broadcast');
    }
    const target = live ?? (record.status !== 'ended' ? await adopt?.(record) : undefined);
    if (!target) throw new AppError('BROADCAST_ENDED', 'this broadcast is not live');
    return target;
  }

  /**
   * Several nodes: the broadcaster resumes here a broadcast that is live but on air on no node
   * here — its origin died, or it ended up on this node through the load balancer. This node
   * claims it (refused while another live node holds it) and becomes its origin; edges that
   * relayed it from the old origin see the claim change and send their viewers here.
   */
  async #adopt(record: BroadcastRecord, peer: Peer): Promise<LiveBroadcast | undefined> {
    if (!this.#o.relays) return undefined;
    this.#o.sunset.assertAllowed('broadcast');
    if (this.#o.draining?.()) throw new AppError('UNAVAILABLE', 'this server is being drained: reconnect and resume again');
    const lease = await this.#takeLease(record.id);
    if (!lease) throw new AppError('UNAVAILABLE', 'this broadcast is still held by another server; trying again');
    // Viewers of this node's relay of it rejoin as viewers of the origin.
    this.#o.relays.get(record.id)?.close('origin-lost');
    let media: Broadcast;
    try {
      media = await this.#createMedia(record.id);
    } catch (err) {
      await lease.release();
      throw err;
    }
    await this.#o.stores.broadcasts.setOriginNode(record.id, this.#o.origin.nodeId);
    this.#log.info({ broadcastId: record.id, token: lease.token, previous: record.originNode }, 'took over a broadcast whose origin was gone');
    const live = this.#add({ ...record, status: 'reconnecting' }, media, peer.id, lease);
    this.#o.recorder?.broadcastMoved(record.id);
    return live;
  }

  #takeLease(id: BroadcastId): Promise<OriginLease | null> {
    const { directory, nodeId, renewMs } = this.#o.origin;
    return OriginLease.take({ directory, broadcastId: id, nodeId, renewMs, logger: this.#log.child({ broadcastId: id }) }).catch((err: unknown) => {
      throw new AppError('UNAVAILABLE', 'the broadcast directory does not answer; try again', { cause: err });
    });
  }

  /** The broadcast served here, as its origin or as a relay. */
  #here(id: BroadcastId): OnAir | undefined {
    return this.#live.get(id) ?? this.#o.relays?.get(id);
  }

  async #requireBroadcasterOf(peer: Peer, broadcastId: BroadcastId): Promise<LiveBroadcast> {
    const live = await this.#requireOwnedLive(peer, broadcastId, 'produce');
    if (live.broadcasterPeerId !== peer.id) {
      throw new AppError('WRONG_STATE', 'this connection is not the broadcaster; call broadcast:resume first');
    }
    return live;
  }

  async #requireViewer(peer: Peer, broadcastId: BroadcastId): Promise<Viewer> {
    const { live } = await this.#visible(peer, broadcastId);
    return this.#viewerIn(peer, live ?? this.#o.relays?.get(broadcastId));
  }

  /** The caller's viewer in a broadcast it may see (`live`: undefined when not on air here). */
  #viewerIn(peer: Peer, live: OnAir | undefined): Viewer {
    if (!live) throw new AppError('BROADCAST_ENDED', 'this broadcast is not live');
    const viewer = live.viewerOf(peer.id);
    if (!viewer) throw new AppError('NOT_JOINED', 'join the broadcast first');
    return viewer;
  }

  /** Chat and hearts come from viewers and from the broadcaster. */
  async #requireParticipant(peer: Peer, broadcastId: BroadcastId): Promise<OnAir> {
    const { live: origin } = await this.#visible(peer, broadcastId);
    const live = origin ?? this.#o.relays?.get(broadcastId);
    if (!live) throw new AppError('BROADCAST_ENDED', 'this broadcast is not live');
    if (!live.isParticipant(peer.id)) throw new AppError('NOT_JOINED', 'join the broadcast first');
    return live;
  }

  async #resolveInvitees(usernames: string[], owner: UserRecord) {
    const wanted = [...new Set(usernames.map((u) => u.toLowerCase()))].filter((u) => u !== owner.username.toLowerCase());
    if (wanted.length === 0) return [];
    const found = await this.#o.stores.users.findIdsByUsernames(wanted);
    const unknown = wanted.filter((u) => !found.has(u));
    if (unknown.length > 0) throw new AppError('VALIDATION_FAILED', `unknown invitee(s): ${unknown.join(', ')}`);
    return [...found.values()];
  }

  #createMedia(id: BroadcastId): Promise<Broadcast> {
    return Broadcast.create({ id, pool: this.#o.pool, maxViewersPerRouter: this.#o.maxViewersPerRouter, logger: this.#log.child({ broadcastId: id }) });
  }
}
