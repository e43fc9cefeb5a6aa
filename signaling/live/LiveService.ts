import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { EndReason, Request, Responses, ServerToClientEvents } from '../../common/protocol/events.ts';
import type { ConsumerOptions, TransportOptions } from '../../common/protocol/media.ts';
import { Broadcast } from '../../sfu/Broadcast.ts';
import type { Viewer } from '../../sfu/Viewer.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';
import type { BroadcastRecord } from '../store/BroadcastStore.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';
import { HeartAggregator } from './HeartAggregator.ts';
import { LiveBroadcast, toSummary } from './LiveBroadcast.ts';
import { Peer } from './Peer.ts';
import { RateLimiter } from './RateLimiter.ts';
import type { Throttle } from '../throttle/RateLimits.ts';
import type { Notifier, Recorder, SunsetGate } from './ports.ts';

type Events = ServerToClientEvents;

export interface LiveServiceOptions {
  stores: Stores;
  pool: WorkerPool;
  logger: Logger;
  /** Seconds a broadcast waits for its broadcaster to come back. */
  graceSeconds: number;
  maxViewersPerRouter: number;
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
}

/** Recent chat sent to a viewer when they join. */
const RECENT_CHAT = 50;
/** Viewer-count pushes are coalesced to at most one per this interval per broadcast. */
const COUNT_PUSH_MS = 250;
/** Tries to move a broadcast off a dead worker, 200 ms × attempt apart (about 9 s in all). */
const RECOVERY_ATTEMPTS = 10;

/**
 * The one answer, code and message, for a broadcast id that does not exist or that the
 * caller may not see: nothing tells a private broadcast apart from a missing one.
 */
const notFound = () => new AppError('NOT_FOUND', 'broadcast not found');

/**
 * The live domain: who broadcasts, who watches, chat, hearts and viewer counts. Socket
 * handlers call exactly one method each; every method authorises its caller first.
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
  readonly #chatLimiter: RateLimiter;
  readonly #heartLimiter: RateLimiter;
  readonly #hearts: HeartAggregator<BroadcastId>;
  readonly #notify: Notifier;
  readonly #recorder: Recorder | undefined;
  readonly #sunset: SunsetGate;
  #closed = false;

  constructor(options: LiveServiceOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#chatLimiter = new RateLimiter(options.chatBurst, options.chatWindowSeconds * 1000);
    this.#heartLimiter = new RateLimiter(options.heartsPerSecond, 1000);
    this.#hearts = new HeartAggregator(options.heartFlushMs, (id, count) => this.#flushHearts(id, count));
    this.#notify = options.notifier;
    this.#recorder = options.recorder;
    this.#sunset = options.sunset;
  }

  // ------------------------------------------------------------ peers --

  connect(peerId: string, user: UserRecord | undefined, address: string): Peer {
    const peer = new Peer(peerId, user, address);
    this.#peers.set(peerId, peer);
    return peer;
  }

  /** A connection went away: viewers leave; a broadcaster's broadcast waits out its grace period. */
  disconnect(peerId: string): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    for (const broadcastId of [...peer.viewing.keys()]) this.#removeViewer(peer, broadcastId);
    const live = peer.broadcasting ? this.#live.get(peer.broadcasting) : undefined;
    if (live && live.broadcasterPeerId === peer.id) {
      live.broadcasterPeerId = undefined;
      this.#broadcasterAway(live);
    }
  }

  /** Live summary of a broadcast, if it is on air here. */
  liveSummary(id: BroadcastId) {
    return this.#live.get(id)?.summary();
  }

  /** The broadcast if it is on air in this process (what the recording tap needs of it). */
  onAir(id: BroadcastId): LiveBroadcast | undefined {
    return this.#live.get(id);
  }

  /** Tells the broadcast's room (the broadcaster above all) how its recording goes. */
  notifyRecording(id: BroadcastId, state: 'recording' | 'stopped', reason: string | null): void {
    if (this.#live.has(id)) this.#notify.toBroadcast(id, 'recording:status', { broadcastId: id, state, reason });
  }

  /** Number of viewers of a live broadcast (0 when not on air here). */
  viewerCount(id: BroadcastId): number {
    const live = this.#live.get(id);
    return live && !live.media.closed ? live.viewerCount : 0;
  }

  // ------------------------------------------------------- broadcaster --

  async start(peer: Peer, req: Request<'broadcast:start'>): Promise<Responses['broadcast:start']> {
    this.#sunset.assertAllowed('broadcast');
    const user = this.#requireUser(peer, 'sign in to go live');
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
    await this.#recorder?.assertCanRecord();
    const record = await this.#o.stores.broadcasts.create({
      ownerId: user.id,
      title: req.title,
      visibility: req.visibility,
      inviteeIds,
    });
    let media: Broadcast;
    try {
      media = await this.#createMedia(record.id);
    } catch (err) {
      await this.#o.stores.broadcasts.end(record.id, 'media-error');
      throw err;
    }
    const live = new LiveBroadcast(record, media, peer.id);
    this.#live.set(record.id, live);
    this.#watchMedia(live);
    this.#armNoMediaTimer(live);
    peer.broadcasting = record.id;
    this.#notify.join(peer.id, record.id);
    try {
      await this.#recorder?.broadcastStarted(record.id);
    } catch (err) {
      await this.#end(live, 'recording-unavailable');
      throw err;
    }
    this.#log.info({ broadcastId: record.id, userId: user.id, visibility: record.visibility }, 'broadcast started');
    return { broadcast: live.summary(), rtpCapabilities: media.rtpCapabilities };
  }

  /** The broadcaster comes back (new connection, or after its media worker died). */
  async resume(peer: Peer, { broadcastId }: Request<'broadcast:resume'>): Promise<Responses['broadcast:resume']> {
    const live = await this.#requireOwnedLive(peer, broadcastId, 'resume');
    if (live.broadcasterPeerId && live.broadcasterPeerId !== peer.id) {
      // The old connection has not been noticed as gone yet: the newest one wins.
      const old = this.#peers.get(live.broadcasterPeerId);
      if (old) old.broadcasting = undefined;
    }
    live.media.closeSendTransport();
    live.broadcasterPeerId = peer.id;
    peer.broadcasting = broadcastId;
    this.#notify.join(peer.id, broadcastId);
    if (live.graceTimer) clearTimeout(live.graceTimer);
    live.graceTimer = undefined;
    if (live.record.status !== 'live') await this.#setStatus(live, 'live');
    this.#log.info({ broadcastId }, 'broadcaster resumed');
    return { broadcast: live.summary(), rtpCapabilities: live.media.rtpCapabilities };
  }

  async stop(peer: Peer, { broadcastId }: Request<'broadcast:stop'>): Promise<Responses['broadcast:stop']> {
    const user = this.#requireUser(peer, 'sign in to stop a broadcast');
    const { record, live } = await this.#visible(peer, broadcastId);
    if (record.ownerId !== user.id) throw new AppError('FORBIDDEN', 'only the broadcaster can stop this broadcast');
    if (live) return { broadcast: await this.#end(live, 'stopped') };
    // Left live by a crash of another process, or already ended: make sure it is ended.
    const ended = (await this.#o.stores.broadcasts.end(broadcastId, 'stopped')) ?? record;
    return { broadcast: toSummary(ended, 0) };
  }

  async produce(peer: Peer, req: Request<'produce'>): Promise<Responses['produce']> {
    const live = await this.#requireBroadcasterOf(peer, req.broadcastId);
    const { producerId } = await live.media.produce({
      transportId: req.transportId,
      kind: req.kind,
      rtpParameters: req.rtpParameters,
    });
    this.#log.info({ broadcastId: live.id, kind: req.kind, producerId }, 'producing');
    return { producerId };
  }

  // ------------------------------------------------------------ viewer --

  async join(peer: Peer, { broadcastId }: Request<'broadcast:join'>): Promise<Responses['broadcast:join']> {
    const { record, live } = await this.#visible(peer, broadcastId);
    if (!live || record.status === 'ended') throw new AppError('BROADCAST_ENDED', 'this broadcast has ended');
    if (!peer.viewing.has(broadcastId)) {
      const viewer = await live.media.addViewer(peer.id);
      peer.viewing.set(broadcastId, viewer);
      live.addWatcher(peer.viewerKey, peer.id, peer.user?.id);
      this.#watchViewer(peer, live, viewer);
      this.#notify.join(peer.id, broadcastId);
      this.#scheduleCount(live);
    }
    const recentChat = await this.#o.stores.chat.recent(broadcastId, RECENT_CHAT);
    return { broadcast: live.summary(), rtpCapabilities: live.media.rtpCapabilities, recentChat };
  }

  leave(peer: Peer, { broadcastId }: Request<'broadcast:leave'>): Responses['broadcast:leave'] {
    this.#removeViewer(peer, broadcastId);
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

  // --------------------------------------------------------- transports --

  /** A send transport for the broadcaster's connection, a receive transport for a viewer's. */
  async createTransport(peer: Peer, { broadcastId }: Request<'transport:create'>): Promise<TransportOptions> {
    const { live } = await this.#visible(peer, broadcastId);
    if (live && live.broadcasterPeerId === peer.id) return live.media.createSendTransport();
    return this.#viewerIn(peer, live, broadcastId).createTransport();
  }

  async connectTransport(peer: Peer, req: Request<'transport:connect'>): Promise<Responses['transport:connect']> {
    const { live } = await this.#visible(peer, req.broadcastId);
    if (live && live.broadcasterPeerId === peer.id) {
      await live.media.connectSendTransport(req.transportId, req.dtlsParameters);
    } else {
      await this.#viewerIn(peer, live, req.broadcastId).connectTransport(req.transportId, req.dtlsParameters);
    }
    return {};
  }

  // ------------------------------------------------------ chat, hearts --

  async chat(peer: Peer, req: Request<'chat:send'>): Promise<Responses['chat:send']> {
    this.#sunset.assertAllowed('chat');
    const user = this.#requireUser(peer, 'sign in to chat');
    const live = await this.#requireParticipant(peer, req.broadcastId);
    if (!this.#chatLimiter.take(`${live.id}:${user.id}`)) {
      throw new AppError('RATE_LIMITED', `slow down: at most ${this.#o.chatBurst} messages per ${this.#o.chatWindowSeconds} s`);
    }
    const message = await this.#o.stores.chat.add({
      broadcastId: live.id,
      userId: user.id,
      text: req.text,
      offsetMs: live.offsetMs(),
    });
    this.#notify.toBroadcast(live.id, 'chat:message', message);
    return { message };
  }

  async heart(peer: Peer, { broadcastId }: Request<'heart:send'>): Promise<Responses['heart:send']> {
    this.#sunset.assertAllowed('heart');
    const live = await this.#requireParticipant(peer, broadcastId);
    if (!this.#heartLimiter.take(`${live.id}:${peer.actorKey}`)) {
      throw new AppError('RATE_LIMITED', `slow down: at most ${this.#o.heartsPerSecond} hearts per second`);
    }
    this.#hearts.add(live.id);
    return {};
  }

  // ----------------------------------------------------------- closing --

  /**
   * Ends every live broadcast and keeps serving (the sunset's read-only switch): viewers
   * and broadcasters are told why, and each broadcast is recorded up to here.
   */
  async endAll(reason: EndReason): Promise<number> {
    const all = [...this.#live.values()];
    await Promise.allSettled(all.map((live) => this.#end(live, reason)));
    return all.length;
  }

  /** Ends every live broadcast (process shutdown). Idempotent. */
  async close(reason: EndReason = 'server-shutdown'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hearts.close();
    await Promise.allSettled([...this.#live.values()].map((live) => this.#end(live, reason)));
  }

  // ----------------------------------------------------------- private --

  #requireUser(peer: Peer, message: string): UserRecord {
    if (!peer.user) throw new AppError('UNAUTHENTICATED', message);
    return peer.user;
  }

  /**
   * The broadcast if the caller may see it (public, or theirs, or they are invited), with its
   * live state here; otherwise NOT_FOUND exactly as for an id that does not exist. A broadcast
   * on air is checked from memory; any other id costs one primary-key lookup.
   */
  async #visible(peer: Peer, broadcastId: BroadcastId): Promise<{ record: BroadcastRecord; live: LiveBroadcast | undefined }> {
    const live = this.#live.get(broadcastId);
    const record = live ? live.record : await this.#o.stores.broadcasts.get(broadcastId);
    if (!record || !this.#o.stores.broadcasts.canView(record, peer.user?.id)) throw notFound();
    return { record, live };
  }

  async #requireOwnedLive(peer: Peer, broadcastId: BroadcastId, action: 'resume' | 'produce'): Promise<LiveBroadcast> {
    const user = this.#requireUser(peer, 'sign in to broadcast');
    const { record, live } = await this.#visible(peer, broadcastId);
    if (record.ownerId !== user.id) {
      throw new AppError('FORBIDDEN', action === 'resume' ? 'only the broadcaster can resume this broadcast' : 'only the broadcaster can send media into this broadcast');
    }
    if (!live) throw new AppError('BROADCAST_ENDED', 'this broadcast is not live');
    return live;
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
    return this.#viewerIn(peer, live, broadcastId);
  }

  /** The caller's viewer in a broadcast it may see (`live`: undefined when not on air here). */
  #viewerIn(peer: Peer, live: LiveBroadcast | undefined, broadcastId: BroadcastId): Viewer {
    if (!live) throw new AppError('BROADCAST_ENDED', 'this broadcast is not live');
    const viewer = peer.viewing.get(broadcastId);
    if (!viewer || viewer.closed) throw new AppError('NOT_JOINED', 'join the broadcast first');
    return viewer;
  }

  /** Chat and hearts come from viewers and from the broadcaster. */
  async #requireParticipant(peer: Peer, broadcastId: BroadcastId): Promise<LiveBroadcast> {
    const { live } = await this.#visible(peer, broadcastId);
    if (!live) throw new AppError('BROADCAST_ENDED', 'this broadcast is not live');
    if (!peer.viewing.has(broadcastId) && live.broadcasterPeerId !== peer.id) {
      throw new AppError('NOT_JOINED', 'join the broadcast first');
    }
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
    return Broadcast.create({
      id,
      pool: this.#o.pool,
      maxViewersPerRouter: this.#o.maxViewersPerRouter,
      logger: this.#log.child({ broadcastId: id }),
    });
  }

  /** Reacts to the media side closing under us: its worker died. */
  #watchMedia(live: LiveBroadcast): void {
    const media = live.media;
    media.on('newproducer', ({ kind }) => {
      if (live.media === media) this.#notify.toBroadcast(live.id, 'producer:new', { broadcastId: live.id, kind });
    });
    media.on('close', (reason) => {
      if (reason !== 'worker-died' || live.media !== media || !this.#live.has(live.id)) return;
      void this.#recoverMedia(live);
    });
  }

  #watchViewer(peer: Peer, live: LiveBroadcast, viewer: Viewer): void {
    viewer.on('close', (reason) => {
      if (reason !== 'worker-died' || peer.viewing.get(live.id) !== viewer) return;
      // Only this viewer's router was lost: tell it to rejoin.
      peer.viewing.delete(live.id);
      live.removeWatcher(peer.viewerKey, peer.id);
      this.#notify.toPeer(peer.id, 'broadcast:interrupted', { broadcastId: live.id, reason: 'media-worker-died' });
      this.#scheduleCount(live);
    });
  }

  /**
   * The broadcast's media worker died: new routers on a healthy worker (waiting for the pool
   * to replace workers if none is up), then everyone is told to rejoin. Until the broadcaster
   * produces again, the broadcast is reconnecting, with the usual grace period.
   */
  async #recoverMedia(live: LiveBroadcast): Promise<void> {
    this.#log.warn({ broadcastId: live.id }, 'media worker of broadcast died; moving it to another worker');
    // Media that flowed before the crash counts: from here the grace period decides.
    if (live.noMediaTimer && (await live.media.mediaReceived())) {
      clearTimeout(live.noMediaTimer);
      live.noMediaTimer = undefined;
    }
    for (const peer of this.#peers.values()) peer.viewing.delete(live.id);
    live.clearWatchers();
    this.#broadcasterAway(live);
    for (let attempt = 1; ; attempt++) {
      try {
        const media = await this.#createMedia(live.id);
        if (this.#live.get(live.id) !== live) {
          media.close('stopped');
          return;
        }
        live.media = media;
        break;
      } catch (err) {
        if (attempt >= RECOVERY_ATTEMPTS || this.#live.get(live.id) !== live) {
          this.#log.error({ err, broadcastId: live.id }, 'could not recreate media for broadcast');
          await this.#end(live, 'broadcaster-left');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, attempt * 200));
      }
    }
    this.#watchMedia(live);
    this.#notify.toBroadcast(live.id, 'broadcast:interrupted', { broadcastId: live.id, reason: 'media-worker-died' });
    this.#scheduleCount(live);
  }

  /**
   * A broadcast that never sends media ends after `noMediaTimeoutSeconds`, so throwaway
   * accounts cannot keep empty broadcasts on air. "Media" means RTP that arrived (see
   * `Broadcast.mediaReceived`), not merely a producer. Once media has flowed the timer is
   * done: a broadcaster who drops later is covered by the grace period alone.
   */
  #armNoMediaTimer(live: LiveBroadcast): void {
    if (this.#o.noMediaTimeoutSeconds <= 0) return;
    live.noMediaTimer = setTimeout(() => {
      live.noMediaTimer = undefined;
      void this.#endIfNoMedia(live);
    }, this.#o.noMediaTimeoutSeconds * 1000);
    live.noMediaTimer.unref();
  }

  async #endIfNoMedia(live: LiveBroadcast): Promise<void> {
    if (this.#live.get(live.id) !== live || (await live.media.mediaReceived())) return;
    if (this.#live.get(live.id) !== live) return;
    this.#log.info({ broadcastId: live.id, timeoutSeconds: this.#o.noMediaTimeoutSeconds }, 'no media arrived; ending the broadcast');
    await this.#end(live, 'no-media');
  }

  #broadcasterAway(live: LiveBroadcast): void {
    if (!live.media.closed) live.media.closeSendTransport();
    if (live.graceTimer) return;
    live.graceTimer = setTimeout(() => void this.#end(live, 'broadcaster-left'), this.#o.graceSeconds * 1000);
    live.graceTimer.unref();
    void this.#setStatus(live, 'reconnecting');
    this.#log.info({ broadcastId: live.id, graceSeconds: this.#o.graceSeconds }, 'broadcaster away; waiting');
  }

  async #setStatus(live: LiveBroadcast, status: 'live' | 'reconnecting'): Promise<void> {
    live.record = { ...live.record, status };
    this.#notify.toBroadcast(live.id, 'broadcast:status', { broadcastId: live.id, status });
    try {
      await this.#o.stores.broadcasts.setStatus(live.id, status);
    } catch (err) {
      this.#log.error({ err, broadcastId: live.id }, 'could not store broadcast status');
    }
  }

  #removeViewer(peer: Peer, broadcastId: BroadcastId): void {
    const viewer = peer.viewing.get(broadcastId);
    if (!viewer) return;
    peer.viewing.delete(broadcastId);
    const live = this.#live.get(broadcastId);
    live?.removeWatcher(peer.viewerKey, peer.id);
    if (live && !live.media.closed) live.media.removeViewer(peer.id);
    else viewer.close('left');
    if (live?.broadcasterPeerId !== peer.id) this.#notify.leave(peer.id, broadcastId);
    if (live) this.#scheduleCount(live);
  }

  #scheduleCount(live: LiveBroadcast): void {
    if (live.countTimer) return;
    live.countTimer = setTimeout(() => {
      live.countTimer = undefined;
      if (!this.#live.has(live.id)) return;
      this.#notify.toBroadcast(live.id, 'viewers:count', { broadcastId: live.id, count: this.viewerCount(live.id) });
    }, COUNT_PUSH_MS);
  }

  #flushHearts(id: BroadcastId, count: number): void {
    const live = this.#live.get(id);
    if (!live) return;
    this.#notify.toBroadcast(id, 'hearts', { broadcastId: id, count });
    this.#o.stores.chat.addHearts(id, live.offsetMs(), count).catch((err: unknown) => {
      this.#log.error({ err, broadcastId: id }, 'could not store hearts');
    });
  }

  async #end(live: LiveBroadcast, reason: EndReason) {
    if (this.#live.get(live.id) !== live) return live.summary();
    this.#hearts.flushNow();
    this.#live.delete(live.id);
    live.clearTimers();
    live.media.close('stopped');
    for (const peer of this.#peers.values()) {
      peer.viewing.delete(live.id);
      if (peer.broadcasting === live.id) peer.broadcasting = undefined;
    }
    this.#chatLimiter.forget(`${live.id}:`);
    this.#heartLimiter.forget(`${live.id}:`);
    try {
      const ended = await this.#o.stores.broadcasts.end(live.id, reason);
      if (ended) live.record = ended;
    } catch (err) {
      this.#log.error({ err, broadcastId: live.id }, 'could not store the end of a broadcast');
      live.record = { ...live.record, status: 'ended', endedAt: new Date().toISOString(), endReason: reason };
    }
    this.#notify.toBroadcast(live.id, 'broadcast:ended', { broadcastId: live.id, reason });
    this.#notify.clear(live.id);
    await this.#recorder?.broadcastEnded(live.id);
    this.#log.info({ broadcastId: live.id, reason }, 'broadcast ended');
    return toSummary(live.record, 0);
  }
}
