import { AppError } from '../common/errors.ts';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { Server } from 'socket.io';
import { proxyHops, type Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import { createStorage } from '../common/storage/createStorage.ts';
import { WorkerPool } from '../sfu/WorkerPool.ts';
import { adminQueuesRouter } from './http/adminQueues.ts';
import { metricsRouter } from './http/metricsRouter.ts';
import { createNodeMetrics, firstFrameHistogram } from './metrics/nodeMetrics.ts';
import { MetricsServer } from '../common/metrics/MetricsServer.ts';
import { createApp } from './http/createApp.ts';
import { ReplayRemoval } from './replays/ReplayRemoval.ts';
import { AccountRemoval } from './account/AccountRemoval.ts';
import { AvatarImages } from './profiles/AvatarImages.ts';
import { LiveNotifications } from './profiles/LiveNotifications.ts';
import { Profiles } from './profiles/Profiles.ts';
import { Moderation } from './moderation/Moderation.ts';
import { crossOriginRefusal, serviceOrigins } from './http/originCheck.ts';
import { tokenFrom } from './http/auth.ts';
import { LiveService } from './live/LiveService.ts';
import { TurnCredentials } from './live/TurnCredentials.ts';
import { ArchiveService } from './archive/ArchiveService.ts';
import { WorkerResults } from './results/WorkerResults.ts';
import { ArchiveSweep } from './sunset/ArchiveSweep.ts';
import { RecordingService } from './recording/RecordingService.ts';
import { SocketGateway, type SpyglassServer } from './socket/SocketGateway.ts';
import { SocketNotifier } from './socket/SocketNotifier.ts';
import { SocketModerationReach } from './socket/SocketModerationReach.ts';
import { Blocking } from './moderation/Blocking.ts';
import { ChatModeration } from './moderation/ChatModeration.ts';
import { LiveModeration } from './moderation/LiveModeration.ts';
import { socketAdapter } from './socket/socketAdapter.ts';
import { Closers } from './Closers.ts';
import { LocalBroadcastDirectory } from '../common/cluster/BroadcastDirectory.ts';
import { ClusterNode, COUNT_REFRESH_MS } from './cluster/ClusterNode.ts';
import { localTally } from './live/ports.ts';
import { clientAddress, LocalConnectionLimiter } from './socket/ConnectionLimiter.ts';
import { RateLimits } from './throttle/RateLimits.ts';
import { openDatabase } from './store/Database.ts';
import { createStores, type Stores } from './store/index.ts';
import { SunsetService } from './sunset/SunsetService.ts';
import { PasswordHasher, type Kdf } from './store/passwords.ts';
import { PasswordPolicy } from './store/PasswordPolicy.ts';
import { AuthLimits } from './throttle/AuthLimits.ts';
import { IngestService } from './ingest/IngestService.ts';
import { StreamKeys } from './ingest/StreamKeys.ts';
import { WhipSessions } from './ingest/whip/WhipSessions.ts';
import { routerRtpCapabilities } from '../sfu/routerCapabilities.ts';
import { RtmpServer } from './ingest/rtmp/RtmpServer.ts';
import type { IngestBroadcasts, StreamKeyAuthority } from './ingest/ports.ts';
import { WhepService } from './ingest/whep/WhepService.ts';

/** The socket.io room of every connection of one session. */
const sessionRoom = (sessionId: string) => `s:${sessionId}`;

/** The version in package.json, written into archives' manifests. */
const APP_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningSpyglass {
  /** The URL to open, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  pool: WorkerPool;
  live: LiveService;
  /** The stores (tests read replay state through them). */
  stores: Stores;
  /** Where `metrics.port` serves /metrics without authentication, when configured. */
  metricsUrl: string | undefined;
  /** Sunset mode: the phase, computed from the stored schedule and the clock. */
  sunset: SunsetService;
  /** This process as one node of several (`cluster.enabled`), else undefined. */
  cluster: ClusterNode | undefined;
  /** Moderation (docs/moderation.md): removing chat messages (`chat.remove`), block lists (`blocking.isBlocked`, …). */
  moderation: { chat: ChatModeration; blocking: Blocking };
  /** Encoders going live with stream keys (docs/ingest.md): what the WHIP and RTMP endpoints use. */
  ingest: { broadcasts: IngestBroadcasts; keys: StreamKeyAuthority };
  /** The RTMP listener (`ingest.rtmp.enabled`), else undefined. */
  rtmp: RtmpServer | undefined;
  /** Graceful shutdown: ends live broadcasts, closes sockets, workers and the database. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Time source of the sunset phases and of stored times (tests move it). */
  clock?: () => number;
  /** The password KDF (default: scrypt); tests wrap it to observe how many run at once. */
  kdf?: Kdf;
}

/**
 * Starts the signalling process's services on a parsed config: database (SQLite or
 * PostgreSQL), mediasoup workers, the live domain, express and socket.io on one server.
 */
export async function startSpyglass(
  config: Config,
  logger: Logger,
  webRoot: string,
  options: StartOptions = {},
): Promise<RunningSpyglass> {
  // Everything opened below pushes its closer: a failure half-way closes what was opened,
  // and close() runs the same stack.
  const closers = new Closers(logger);
  try {
    return await open(config, logger, webRoot, options, closers);
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

async function open(config: Config, logger: Logger, webRoot: string, options: StartOptions, closers: Closers): Promise<RunningSpyglass> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    sqlitePath: path.join(config.dataDir, 'spyglass.db'),
    logger: logger.child({ component: 'store' }),
  });
  closers.push('database', () => db.close());
  // The data directory (the one-host default) or an S3 bucket.
  const { storage, close: closeStorage } = await createStorage(config);
  closers.push('storage', closeStorage);
  const stores = createStores(db.db, config.secret, options.clock ? { clock: options.clock } : {});
  const sunset = new SunsetService({ store: stores.sunset, logger: logger.child({ component: 'sunset' }), ...(options.clock ? { clock: options.clock } : {}) });
  closers.push('sunset', () => sunset.close());
  await sunset.start();
  // One host: what an earlier run left live has no media any more. Several nodes: the others'
  // broadcasts are not this node's to end; the OrphanSweeper ends those of dead nodes.
  if (!config.cluster.enabled) {
    const leftovers = await stores.broadcasts.endAllLive('server-shutdown');
    if (leftovers > 0) logger.warn({ count: leftovers }, 'ended broadcasts left live by an earlier run');
  }

  const pool = await WorkerPool.create({
    numWorkers: config.mediasoup.numWorkers,
    listenIp: config.mediasoup.listenIp,
    announcedAddress: config.mediasoup.announcedAddress,
    webRtcPort: config.mediasoup.webRtcPort,
    rtcMinPort: config.mediasoup.rtcMinPort,
    rtcMaxPort: config.mediasoup.rtcMaxPort,
    logLevel: config.mediasoup.logLevel,
    logger: logger.child({ component: 'sfu' }),
  });
  closers.push('media workers', () => pool.close());

  // Rate-limit counters live in Redis so that limits hold across nodes. Commands fail fast
  // instead of queueing while Redis is away; RateLimits then falls back to per-process memory.
  const limitsRedis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  closers.push('rate-limit Redis', () => limitsRedis.disconnect());
  let redisDown = false;
  limitsRedis.on('error', (err: Error) => {
    if (!redisDown) logger.warn({ err }, 'rate limits: Redis does not answer; counting in this process until it does');
    redisDown = true;
  });
  limitsRedis.on('ready', () => {
    redisDown = false;
  });
  const rateLimits = new RateLimits({ redis: limitsRedis, prefix: config.queuePrefix, logger: logger.child({ component: 'limits' }) });

  // socket.io first (attached to the HTTP server once that exists): the live domain and the
  // archives reach clients through it from their construction on.
  const adapter = socketAdapter(config, logger.child({ component: 'socket-adapter' }));
  closers.push('socket.io adapter', () => adapter.close());
  const io: SpyglassServer = new Server({
    ...(adapter.adapter ? { adapter: adapter.adapter } : {}),
    serveClient: false,
    // WebSocket only: long-polling spreads one client over many HTTP requests, which several
    // nodes behind a load balancer could serve only with sticky sessions.
    transports: ['websocket'],
    // Hard cap per message; the gateway answers PAYLOAD_TOO_LARGE above LIMITS.maxMessageBytes.
    maxHttpBufferSize: 1_000_000,
    pingInterval: 10_000,
    pingTimeout: 10_000,
    // Browsers send the cookie with a WebSocket to any port of the host: only our own pages may open one.
    allowRequest: (req, callback) => {
      const refusal = crossOriginRefusal(req.headers, isAllowedOrigin);
      callback(refusal ?? null, refusal === undefined);
    },
  });
  let httpServer: http.Server | undefined;
  closers.push('socket.io and HTTP', async () => {
    // After the live broadcasts told their clients they ended: io.close() closes the HTTP
    // server too; connections still open (keep-alive) are cut.
    await new Promise<void>((resolve) => {
      void io.close(() => {
        resolve();
      });
    });
    httpServer?.closeAllConnections();
  });
  // Known once the server listens (the port may be 0); no request arrives before.
  let origins = new Set<string>();
  const isAllowedOrigin = (origin: string) => origins.has(origin);

  const notifier = new SocketNotifier(io);
  // Several nodes: this one's registry entry, the directory, relays and pipes (docs/scale.md).
  const cluster = config.cluster.enabled ? await ClusterNode.open({ config, logger, pool, notifier, closers }) : undefined;

  let archives: ArchiveService | undefined;
  let recording: RecordingService | undefined;
  let results: WorkerResults | undefined;
  if (config.recording.enabled) {
    archives = new ArchiveService({
      config,
      stores,
      storage,
      logger: logger.child({ component: 'archive' }),
      appVersion: APP_VERSION,
      notifyUser: (userId, archive) => io.to(`u:${userId}`).emit('archive:status', { archive }),
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- a phase other than 'none' has a schedule
      serviceEndsAt: () => (sunset.phase() === 'none' ? null : Date.parse(sunset.schedule!.offAt)),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const archiveService = archives;
    closers.push('archives', () => archiveService.close());
    recording = await RecordingService.start(
      { config, stores, logger: logger.child({ component: 'recording' }) },
      // The live domain, built next, is what the tap serves and what hears of recordings.
      { lookup: (id) => live.onAir(id), notifyRecording: (id, state, reason) => live.notifyRecording(id, state, reason) },
    );
    const recordingService = recording;
    closers.push('recording', () => recordingService.close());
    // The workers' results, each to its own domain (replay or archive); closed before either.
    results = new WorkerResults({
      config,
      logger: logger.child({ component: 'results' }),
      routes: { replay: (r) => recordingService.applyResult(r), archive: (r) => archiveService.applyResult(r) },
    });
    const resultsConsumer = results;
    closers.push('worker results', () => resultsConsumer.close());
    // Leftovers: zips past their expiry, and superseded ones not yet deleted.
    archiveService.sweepFiles().catch((err: unknown) => logger.warn({ err }, 'could not sweep old archive files (tried again at the next start)'));
    // Archives whose job a Redis restart lost are enqueued again (at start, then every 15 s).
    archiveService.start();
  }

  // Followers hear of a go-live on every open page (socket.io room `u:<id>`, on every node with the Redis adapter).
  const liveNotifications = new LiveNotifications({
    stores,
    push: (userIds, notification) => void io.to(userIds.map((id) => `u:${id}`)).emit('notification:new', { notification }),
    logger: logger.child({ component: 'notifications' }),
  });
  closers.push('live notifications', () => liveNotifications.close());

  const goLiveWindow = config.limits.goLiveWindowSeconds;
  const firstFrames = firstFrameHistogram();
  const live = new LiveService({
    stores,
    pool,
    logger: logger.child({ component: 'live' }),
    graceSeconds: config.live.graceSeconds,
    maxViewersPerRouter: config.mediasoup.maxViewersPerRouter,
    rateLimits,
    chatBurst: config.live.chatBurst,
    chatWindowSeconds: config.live.chatWindowSeconds,
    heartsPerSecond: config.live.heartsPerSecond,
    heartFlushMs: config.live.heartFlushMs,
    noMediaTimeoutSeconds: config.live.noMediaTimeoutSeconds,
    goLiveLimits: {
      perUser: rateLimits.create('go-live-user', { points: config.limits.goLivesPerUser, durationSeconds: goLiveWindow }, `you went live ${config.limits.goLivesPerUser} times within ${goLiveWindow} s`),
      perAddress: rateLimits.create('go-live-address', { points: config.limits.goLivesPerAddress, durationSeconds: goLiveWindow }, `too many broadcasts were started from your address`),
    },
    notifier,
    recorder: recording,
    sunset,
    draining: () => cluster?.registry.draining ?? false,
    origin: {
      nodeId: cluster?.nodeId ?? 'local',
      directory: cluster?.directory ?? new LocalBroadcastDirectory(config.cluster.ttlMs),
      renewMs: Math.floor(config.cluster.ttlMs / 3),
    },
    tally: cluster?.tally ?? localTally,
    countRefreshMs: COUNT_REFRESH_MS,
    relays: cluster?.relays,
    redirects: cluster?.redirects,
    turn: TurnCredentials.fromConfig(config.turn),
    firstFrame: (seconds, served) => firstFrames.observe({ served }, seconds),
    goLive: liveNotifications,
  });
  // Broadcasts end before the services they record into and the sockets they notify close.
  closers.push('live broadcasts', () => live.close('server-shutdown'));
  // WHEP players (docs/ingest.md, "WHEP"): viewers of the live domain, ended before it.
  const whepConfig = config.ingest.whep;
  const whep = new WhepService({
    live,
    logger: logger.child({ component: 'whep' }),
    maxSessions: whepConfig.maxSessions,
    perAddress: rateLimits.create('whep-address', { points: whepConfig.postsPerAddress, durationSeconds: whepConfig.windowSeconds }, 'too many WHEP sessions were started from your address'),
    connectTimeoutMs: whepConfig.connectTimeoutSeconds * 1000,
    disconnectGraceMs: whepConfig.disconnectGraceSeconds * 1000,
  });
  closers.push('WHEP sessions', () => whep.close());
  // Results apply from now on: the live domain they notify exists.
  results?.start();

  // Moderation (docs/moderation.md): over socket.io rooms, so it reaches every node's viewers.
  const moderationLog = logger.child({ component: 'moderation' });
  const reach = new SocketModerationReach(io, {
    crossNode: config.socketAdapter === 'redis',
    evictHere: (ownerId, userId) => live.evict(ownerId, userId),
    endHere: (broadcastId, reason) => live.endHere(broadcastId, reason),
    logger: moderationLog,
  });
  const chatModeration = new ChatModeration({ stores, notifier, logger: moderationLog });
  const blocking = new Blocking({ stores, reach, logger: moderationLog });
  const liveModeration = new LiveModeration({ stores, chat: chatModeration, blocking, reach, notifier, logger: moderationLog });

  let sweep: ArchiveSweep | undefined;
  if (archives) {
    const sweepService = new ArchiveSweep({ config, stores, archives, sunset, logger: logger.child({ component: 'sunset-sweep' }) });
    sweep = sweepService;
    closers.push('archive sweep', () => sweepService.close());
  }
  // At the read-only switch, whatever is still live ends (and is recorded up to there).
  sunset.onPhaseChange((phase) => {
    if (phase !== 'read-only' && phase !== 'export-only' && phase !== 'off') return;
    live.endAll('service-closing').then(
      (n) => n > 0 && logger.warn({ broadcasts: n, phase }, 'sunset: ended the broadcasts still live'),
      (err: unknown) => logger.error({ err }, 'sunset: could not end the live broadcasts'),
    );
  });

  const queues = recording ? [...recording.queues, ...(archives ? [archives.queue] : []), ...(sweep ? [sweep.queue] : [])] : [];
  const metrics = createNodeMetrics({
    dataDir: config.dataDir,
    pool,
    connections: () => io.engine.clientsCount,
    liveBroadcasts: () => stores.broadcasts.countLive(),
    queues: () => queues,
    firstFrames,
    ...(cluster
      ? {
          cluster: {
            liveNodes: async () => (await cluster.registry.list()).length,
            pipesByNode: () => cluster.pipesByNode(),
            pipeTrafficByNode: () => cluster.pipeTrafficByNode(),
            relays: () => cluster.relays.count,
          },
        }
      : {}),
  });

  // Deleted replays: their files go right away, else within a sweep (every 20 s by default, on every node).
  const replayRemoval = new ReplayRemoval({ stores, storage, logger: logger.child({ component: 'replay-removal' }), archives, sweepIntervalMs: config.recording.removalSweepSeconds * 1000 });
  closers.push('replay removal', () => replayRemoval.close());
  replayRemoval.start();
  const accountRemoval = new AccountRemoval({ stores, storage, replays: replayRemoval, logger: logger.child({ component: 'account-removal' }) });
  const moderation = new Moderation({
    stores,
    live,
    reach,
    replays: replayRemoval,
    logger: logger.child({ component: 'moderation' }),
    reportLimit: rateLimits.create(
      'reports',
      { points: config.limits.reportsPerUser, durationSeconds: config.limits.reportWindowSeconds },
      `you filed ${config.limits.reportsPerUser} reports within ${config.limits.reportWindowSeconds} s`,
    ),
    // A reported chat message is removed as the broadcaster removes one (ChatModeration): gone
    // live, from the replay and from every archive but its author's. False: it was gone already.
    removeChatMessage: async (messageId, admin) => {
      try {
        await chatModeration.remove(messageId, admin);
        return true;
      } catch (error) {
        if (error instanceof AppError && error.code === 'NOT_FOUND') return false;
        throw error;
      }
    },
  });

  // Ingest (docs/ingest.md): encoders go live with a stream key as the same broadcasts as the go-live page's.
  const ingestWindow = config.ingest.openWindowSeconds;
  const streamKeys = new StreamKeys(stores);
  const ingest = {
    keys: streamKeys,
    broadcasts: new IngestService({
      live,
      keys: streamKeys,
      stores,
      sunset,
      limits: {
        perAddress: rateLimits.create('ingest-address', { points: config.ingest.opensPerAddress, durationSeconds: ingestWindow }, 'too many ingest attempts from your address'),
        perKey: rateLimits.create('ingest-key', { points: config.ingest.opensPerKey, durationSeconds: ingestWindow }, `this stream key started ${config.ingest.opensPerKey} times within ${ingestWindow} s`),
      },
      logger: logger.child({ component: 'ingest' }),
    }),
  };

  // WHIP (docs/ingest.md, "WHIP"): offers are matched against the routers' capabilities, read once from a router of the pool.
  const whip = new WhipSessions({ ingest: ingest.broadcasts, rtpCapabilities: () => routerRtpCapabilities(pool), logger: logger.child({ component: 'whip' }) });
  closers.push('WHIP sessions', () => whip.close());
  // RTMP ingest (docs/ingest.md, "RTMP"): the listener for encoders, feeding the same ingest core.
  let rtmp: RtmpServer | undefined;
  if (config.ingest.rtmp.enabled) {
    const r = config.ingest.rtmp;
    rtmp = await RtmpServer.open(
      {
        host: r.host,
        port: r.port,
        maxConnections: r.maxConnections,
        publishTimeoutMs: r.publishTimeoutSeconds * 1000,
        mediaTimeoutMs: r.mediaTimeoutSeconds * 1000,
        keyframeWarningMs: r.keyframeWarningMs,
      },
      {
        authority: ingest.keys,
        broadcasts: ingest.broadcasts,
        warnings: { warn: (broadcastId, w) => notifier.toBroadcast(broadcastId, 'broadcast:warning', { broadcastId, ...w }) },
        logger,
      },
    );
    const listener = rtmp;
    closers.push('RTMP ingest', () => listener.close());
  }

  const profiles = new Profiles({ stores, storage, images: new AvatarImages(), viewerCount: (id) => live.viewerCount(id), logger: logger.child({ component: 'profiles' }) });

  const tls = config.http.tlsCertFile && config.http.tlsKeyFile;
  const app = createApp({
    profiles,
    replayRemoval,
    moderation,
    isAllowedOrigin,
    stores,
    live,
    logger: logger.child({ component: 'http' }),
    webRoot,
    secureCookies: Boolean(tls) || config.http.publicUrl?.startsWith('https:') === true,
    nodePorts: config.cluster.enabled,
    proxyHops: proxyHops(config.http.trustProxy),
    storage,
    sunset: { service: sunset },
    auth: {
      limits: new AuthLimits(rateLimits, config.limits),
      hasher: new PasswordHasher({ concurrency: config.limits.hashConcurrency, maxQueue: config.limits.hashQueue, ...(options.kdf ? { kdf: options.kdf } : {}) }),
      // Built once per process: the dictionaries take tens of ms and several MB to load.
      passwordPolicy: new PasswordPolicy(),
      removeAccount: (userId) => accountRemoval.delete(userId),
    },
    archives,
    blocking,
    ingest: { ...ingest, rtmpPort: rtmp?.address.port ?? null },
    whip,
    whep,
    adminRouters: [
      ...(recording ? [adminQueuesRouter({ queues, stores })] : []),
      metricsRouter({ registry: metrics, stores }),
    ],
    ready: async () => {
      await sql`select 1`.execute(db.db);
      if (pool.closed || pool.workers.length === 0) throw new Error('no media workers');
    },
  });
  const server = tls
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- `tls` is true only when both files are configured (see its definition above)
    ? https.createServer({ cert: readFileSync(config.http.tlsCertFile!), key: readFileSync(config.http.tlsKeyFile!) }, app)
    : http.createServer(app);
  httpServer = server;
  io.attach(server);

  // From export-only on there is nothing live left to do: refuse socket connections.
  io.use((_socket, next) => {
    const phase = sunset.phase();
    next(phase === 'export-only' || phase === 'off' ? new Error('SERVICE_SUNSET') : undefined);
  });
  sunset.onPhaseChange((phase) => {
    if (phase === 'export-only' || phase === 'off') io.disconnectSockets(true);
  });
  io.use((socket, next) => {
    const explicit = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const token = typeof explicit === 'string' && explicit ? explicit : tokenFrom(socket.handshake.headers);
    (token ? stores.sessions.resolveSession(token) : Promise.resolve(undefined))
      .then((session) => {
        socket.data.user = session?.user;
        socket.data.sessionId = session?.sessionId;
        next();
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'socket authentication failed');
        next(new Error('UNAVAILABLE'));
      });
  });
  // Last, so that a slot is taken only by a handshake that connects: freed when its transport closes.
  const connections = new LocalConnectionLimiter(config.limits.connectionsPerAddress);
  io.use((socket, next) => {
    const address = clientAddress(socket.request, proxyHops(config.http.trustProxy));
    if (!connections.tryAcquire(address)) return next(new Error('TOO_MANY_CONNECTIONS'));
    socket.data.address = address;
    socket.conn.once('close', () => connections.release(address));
    next();
  });
  new SocketGateway(io, live, liveModeration, logger.child({ component: 'socket' }));
  // Every connection of a signed-in user joins the user's room (archive progress and the like)
  // and its session's room, so that ending the session ends the connection.
  io.on('connection', (socket) => {
    if (socket.data.user) void socket.join(`u:${socket.data.user.id}`);
    const sessionId = socket.data.sessionId;
    if (sessionId) {
      void socket.join(sessionRoom(sessionId));
      // The session may have been revoked between the handshake and joining its room.
      stores.sessions.isActive(sessionId).then(
        (active) => active || socket.disconnect(true),
        (err: unknown) => logger.warn({ err }, 'could not re-check a socket session'),
      );
    }
  });
  // Revoking a session (sign-out) disconnects its sockets at once: on every node with the
  // Redis adapter (socketAdapter: 'redis'), on this node with the in-memory one.
  closers.push(
    'session revocations',
    stores.sessions.onRevoked((ids) => {
      for (const id of ids) io.in(sessionRoom(id)).disconnectSockets(true);
      // And the WHEP players it authorised.
      whep.revoked(ids);
    }),
  );
  sweep?.start();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origins = serviceOrigins({
    allowedOrigins: config.http.allowedOrigins,
    publicUrl: config.http.publicUrl,
    scheme: tls ? 'https' : 'http',
    host: config.http.host,
    port,
    interfaceAddresses: () => Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)),
  });
  logger.info({ origins: [...origins] }, 'pages of these origins may act on the service');
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
  const url = config.http.publicUrl ?? `${tls ? 'https' : 'http'}://${host}:${port}`;

  await cluster?.serve({ url: config.cluster.nodeUrl ?? url, originMedia: (id) => live.onAir(id)?.media, stores, recorder: recording, viewers: () => live.viewersHere() });

  const metricsServer =
    config.metrics.port === undefined
      ? undefined
      : await MetricsServer.start({ registry: metrics, host: config.metrics.host, port: config.metrics.port, logger: logger.child({ component: 'metrics' }) });
  if (metricsServer) closers.push('metrics server', () => metricsServer.close());
  const metricsUrl = metricsServer && `http://${config.metrics.host.includes(':') ? `[${config.metrics.host}]` : config.metrics.host}:${metricsServer.port}/metrics`;
  return { url, port, metricsUrl, pool, live, stores, sunset, cluster, moderation: { chat: chatModeration, blocking }, ingest, rtmp, close: () => closers.closeAll() };
}
