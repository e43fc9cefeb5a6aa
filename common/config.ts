import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { NodeIdSchema } from './cluster/nodeIds.ts';
import { isHttpOrigin } from './protocol/rules.ts';
import { AppError, describeZodError } from './errors.ts';
import { TurnUrlSchema } from './protocol/media.ts';

/**
 * The published development-only secret: used only when no secret is configured and the
 * process is given no way to generate one; refused in production and whenever the service is
 * reachable from elsewhere (a non-loopback bind or public URL).
 */
export const DEFAULT_SECRET = 'spyglass-dev-secret-change-me';

const port = z.number().int().min(0).max(65535);
/** An http(s) origin, normalised without a trailing slash. */
const httpOrigin = z
  .string()
  .refine(isHttpOrigin, 'must be an origin such as https://live.example.org (scheme, host, optional port; no path)')
  .transform((o) => new URL(o).origin);

/**
 * The whole configuration. Every key has a default that runs on one machine (SQLite and
 * media files under `dataDir`); unknown keys are errors.
 */
export const ConfigSchema = z.strictObject({
  /** 'development' (default), 'production' or 'test'. Production refuses default secrets. */
  mode: z.enum(['development', 'production', 'test']).default('development'),
  /**
   * Secret for signing tokens and links (env SPYGLASS_SECRET). Default: under `npm start`,
   * a random one generated once into `<dataDir>/secret`; required in production and on a
   * non-loopback bind.
   */
  secret: z.string().min(16, 'secret must be at least 16 characters').default(DEFAULT_SECRET),
  /** Directory for the SQLite file and media. Default './data'. */
  dataDir: z.string().min(1).default('./data'),
  /** PostgreSQL URL; when unset, SQLite at `<dataDir>/spyglass.db` is used. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'databaseUrl must start with postgres://').optional(),
  /**
   * Where recordings' replays and archives are kept (the storage port): the data directory
   * (default), or an S3-compatible object store (AWS S3, Ceph RGW, MinIO, R2).
   */
  storage: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('local') }),
      z.strictObject({
        kind: z.literal('s3'),
        endpoint: z.url(),
        region: z.string().min(1).default('us-east-1'),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'storage.bucket must be an S3 bucket name (3–63 lower-case letters, digits, dots, dashes)'),
        /** Keys are stored under this prefix, so that several deployments can share a bucket. */
        prefix: z.string().regex(/^([A-Za-z0-9_-][A-Za-z0-9._-]{0,199})?$/, 'storage.prefix is one path segment (letters, digits, . _ -) or empty').default('spyglass'),
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        forcePathStyle: z.boolean().default(true),
      }),
    ])
    .prefault({ kind: 'local' }),
  /** Redis URL for BullMQ and (with several signalling nodes) the socket.io adapter. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'redisUrl must start with redis://').default('redis://127.0.0.1:6379'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * How socket.io reaches sockets on other nodes: 'memory' (one node, the default) or 'redis'
   * (the Redis streams adapter on `redisUrl`; every node of a deployment must use it).
   */
  socketAdapter: z.enum(['memory', 'redis']).default('memory'),
  /** Several nodes (docs/scale.md): each registers in Redis, claims the broadcasts it hosts and relays the others'; off on one host. */
  cluster: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** This node's id (default: the host name and the HTTP port). */
      nodeId: NodeIdSchema.optional(),
      heartbeatMs: z.number().int().min(100).max(60_000).default(1000),
      /** A node whose last heartbeat is older than this is taken for dead. */
      ttlMs: z.number().int().min(300).max(300_000).default(5000),
      /** A node's relay of a broadcast hosted elsewhere closes this long after its last viewer left. */
      relayIdleMs: z.number().int().min(0).max(3_600_000).default(10_000),
      /**
       * Edge nodes one node pipes a broadcast to directly; an edge that asks past this number
       * is sent to one of them instead, which pipes it on (a relay tree). Default 8.
       */
      maxDirectEdges: z.number().int().min(1).max(1000).default(8),
      /**
       * Where browsers reach this node itself, past the load balancer (an origin, e.g.
       * https://live.example.org:8441): its URL in the registry, where loaded nodes redirect
       * joins to. Default: `http.publicUrl`, else the listen address. Nodes that share a URL
       * are never sent joins by each other.
       */
      nodeUrl: httpOrigin.optional(),
      /**
       * A node with this many consumers per media worker (viewer and pipe consumers: 2 per
       * viewer of audio and video) or more is loaded: it redirects `broadcast:join` to the
       * least-loaded live, non-draining node below it, if any, else serves the viewer itself.
       * Every node judges all nodes by its own value: set the same on every node. 0: no node is
       * ever below it, so no join is redirected. Default 200 (~100 viewers per core; see
       * README.md's fan-out figures).
       */
      maxConsumersPerWorker: z.number().int().min(0).max(1_000_000).default(200),
    })
    .refine((c) => c.ttlMs >= 3 * c.heartbeatMs, 'cluster.ttlMs must be at least 3 heartbeats')
    .prefault({}),
  /**
   * How long a process may take to close gracefully on SIGINT/SIGTERM before it exits anyway
   * (code 1). Default 30 s: above the recorder's 10 s stop and BullMQ's job hand-over.
   */
  shutdownTimeoutSeconds: z.number().min(1).max(3600).default(30),
  /**
   * Prometheus metrics (docs/operations.md, "Metrics"). Always at `/metrics` for admins; with a
   * port, also without authentication on `host:port` (signalling) and `host:workersPort` (the
   * workers process), for a Prometheus on a private network.
   */
  metrics: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.optional(),
      workersPort: port.optional(),
    })
    .prefault({}),
  http: z
    .strictObject({
      /** Address to listen on. Default 127.0.0.1 (browsers allow the camera on localhost). */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port to listen on. Default 8080; 0 picks a free port. */
      port: port.default(8080),
      /** Serve HTTPS directly with these PEM files (both or neither). */
      tlsCertFile: z.string().min(1).optional(),
      tlsKeyFile: z.string().min(1).optional(),
      /**
       * Reverse proxies in front of the service whose X-Forwarded-* headers are believed: `false`
       * (none, the default), `true` (one, e.g. nginx or caddy ending TLS) or their number. The
       * client address is then the one the outermost trusted proxy saw: the X-Forwarded-For entry
       * that many hops from the right, never an entry the client could have written itself.
       */
      trustProxy: z.union([z.boolean(), z.number().int().min(0).max(10)]).default(false),
      /** Public URL printed at start and used in links; its origin may act on the service. Default derived from host and port. */
      publicUrl: z.url().optional(),
      /**
       * Origins (`https://live.example.org`: scheme, host, optional port) whose pages may send
       * state-changing requests and open socket.io, besides `publicUrl`'s. Default none: with
       * neither set, the origins the server listens on (docs/security.md).
       */
      allowedOrigins: z.array(httpOrigin).default([]),
    })
    .prefault({}),
  mediasoup: z
    .strictObject({
      /** Number of mediasoup workers. Default: one per core. */
      numWorkers: z.number().int().min(1).max(64).default(Math.max(1, os.availableParallelism())),
      /** IP the media sockets bind to. Default 127.0.0.1; use 0.0.0.0 with `announcedAddress` on a server. */
      listenIp: z.string().min(1).default('127.0.0.1'),
      /** Address (IP or hostname) browsers use to reach the media sockets. Default: `listenIp`. */
      announcedAddress: z.string().min(1).optional(),
      /** First WebRtcServer port; worker i listens on UDP and TCP `webRtcPort + i`. Default 40000; 0 picks free ports. */
      webRtcPort: port.default(40000),
      /** Port range for other transports (recording taps, pipes). Default 40100–40999. */
      rtcMinPort: port.default(40100),
      rtcMaxPort: port.default(40999),
      /** Viewers per router before new viewers are served from a piped router on another worker. Default 400. */
      maxViewersPerRouter: z.number().int().min(1).default(400),
      logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
    })
    .prefault({}),
  /**
   * TURN for browsers whose network lets no media through to the nodes (docs/operations.md,
   * "TURN"): every WebRTC transport's answer carries these URLs with time-limited credentials
   * that a TURN server configured with `use-auth-secret` and the same `static-auth-secret`
   * (coturn) accepts. Off by default (no URLs).
   */
  turn: z
    .strictObject({
      /** TURN URLs handed to browsers, e.g. `turns:turn.example.org:443?transport=tcp`. Default none. */
      urls: z.array(TurnUrlSchema).max(8).default([]),
      /** The secret shared with the TURN server (coturn's `static-auth-secret`). Required with `urls`. */
      secret: z.string().min(16, 'turn.secret must be at least 16 characters').max(256).optional(),
      /**
       * How long a credential stays valid for new allocations, in seconds (every transport gets
       * fresh ones; coturn keeps refreshing an allocation made before the expiry). Default 86400.
       */
      credentialTtlSeconds: z.number().int().min(60).max(7 * 86_400).default(86_400),
      /** Browsers may use TURN relays only (`iceTransportPolicy: 'relay'`), never a direct path: for tests and diagnosis. Default false. */
      forceRelay: z.boolean().default(false),
    })
    .refine((t) => t.urls.length === 0 || t.secret !== undefined, { message: 'turn.secret is required with turn.urls', path: ['secret'] })
    .refine((t) => t.urls.length > 0 || (t.secret === undefined && !t.forceRelay), { message: 'turn.secret and turn.forceRelay need turn.urls', path: ['urls'] })
    .prefault({}),
  live: z
    .strictObject({
      /** Seconds a broadcast waits for its broadcaster to reconnect before it ends. Default 30. */
      graceSeconds: z.number().min(0).max(3600).default(30),
      /** Chat messages allowed per user per broadcast in `chatWindowSeconds` (whole seconds). Default 5 per 10 s. */
      chatBurst: z.number().int().min(1).default(5),
      chatWindowSeconds: z.number().int().min(1).max(86_400).default(10),
      /** Hearts accepted per user per second. Default 10. */
      heartsPerSecond: z.number().int().min(1).default(10),
      /** Hearts are summed and fanned out once per this interval. Default 250 ms. */
      heartFlushMs: z.number().int().min(20).max(5000).default(250),
      /** A broadcast that receives no media (RTP) within this many seconds of going live ends with 'no-media'; 0 disables. Default 20. */
      noMediaTimeoutSeconds: z.number().min(0).max(3600).default(20),
    })
    .prefault({}),
  /**
   * Throttling (docs/security.md). Counters live in Redis under `queuePrefix`, so they hold
   * across signalling nodes (the connection cap is per process). Client addresses are express's
   * `req.ip`: set `http.trustProxy` behind a reverse proxy, and only then.
   */
  limits: z
    .strictObject({
      /** Go-lives allowed per user per `goLiveWindowSeconds`. Default 10. */
      goLivesPerUser: z.number().int().min(1).default(10),
      /** Go-lives allowed per client address per `goLiveWindowSeconds` (many users may share one address). Default 30. */
      goLivesPerAddress: z.number().int().min(1).default(30),
      /** The window of the go-live limits, in seconds. Default 3600. */
      goLiveWindowSeconds: z.number().int().min(1).max(86_400).default(3600),
      /** socket.io connections open at once per client address (see http.trustProxy). Default 20. */
      connectionsPerAddress: z.number().int().min(1).default(20),
      /** Wrong passwords in a row for one username (known or not) before sign-in to it is blocked. Default 10. */
      signInFailuresPerAccount: z.number().int().min(1).max(1000).default(10),
      /** How long a username stays blocked after that, in seconds. Default 900 (15 minutes). */
      signInAccountBlockSeconds: z.number().int().min(1).max(86_400).default(900),
      /** Failed sign-ins allowed per client address in `signInAddressWindowSeconds`; then blocked for the window. Default 100. */
      signInFailuresPerAddress: z.number().int().min(1).max(1_000_000).default(100),
      /** The window of `signInFailuresPerAddress`, in seconds. Default 3600 (an hour). */
      signInAddressWindowSeconds: z.number().int().min(1).max(7 * 86_400).default(3600),
      /** Sign-up attempts (that pass validation) allowed per client address in `signUpWindowSeconds`. Default 5. */
      signUpsPerAddress: z.number().int().min(1).max(1_000_000).default(5),
      /** The window of `signUpsPerAddress`, in seconds. Default 3600 (an hour). */
      signUpWindowSeconds: z.number().int().min(1).max(7 * 86_400).default(3600),
      /** Reports (docs/moderation.md) a user may file per `reportWindowSeconds`. Default 20. */
      reportsPerUser: z.number().int().min(1).max(1_000_000).default(20),
      /** The window of `reportsPerUser`, in seconds. Default 3600 (an hour). */
      reportWindowSeconds: z.number().int().min(1).max(7 * 86_400).default(3600),
      /** Password hashes (scrypt, on libuv's thread pool) computed at once. Default: twice the cores. */
      hashConcurrency: z.number().int().min(1).max(256).default(2 * Math.max(1, os.availableParallelism())),
      /** Password hashes waiting for a slot; beyond this, sign-in and sign-up answer 503 UNAVAILABLE. Default 32. */
      hashQueue: z.number().int().min(0).max(10_000).default(32),
    })
    .prefault({}),
  /** Prefix of every BullMQ key in Redis, so several deployments (or test runs) can share one Redis. Default 'spyglass'. */
  queuePrefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'queuePrefix: letters, digits, _ . - only').default('spyglass'),
  archives: z
    .strictObject({
      /** How long an archive's download link works, in hours. Default 168 (7 days). */
      linkTtlHours: z.number().positive().max(24 * 365).default(168),
      /** Largest archive the workers will write, in MiB (a quota; 0 = no limit besides the disk). */
      maxMb: z.number().min(0).default(0),
      /**
       * Sunset pre-generation (docs/sunset.md): the pause between two users' archives, in
       * seconds, so that the background sweep leaves the machine to live traffic. Default 5.
       */
      sweepGapSeconds: z.number().min(0).max(3600).default(5),
      /** How fast a background (sunset) archive may be written, in MiB/s; 0 = no limit. Default 100. */
      backgroundMbPerSecond: z.number().min(0).default(100),
    })
    .prefault({}),
  recording: z
    .strictObject({
      /** Record every broadcast. Default true. */
      enabled: z.boolean().default(true),
      /** Refuse to start, or stop, recording when the data directory's disk has less free space (MiB). Default 1024. */
      minFreeMb: z.number().min(0).default(1024),
      /** Address of the workers host that the SFU sends recording RTP to. Default 127.0.0.1. */
      rtpHost: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
      /** UDP ports the recorder (ffmpeg) listens on for RTP/RTCP. Default 41000–41999. */
      rtpMinPort: port.default(41000),
      rtpMaxPort: port.default(41999),
      /** Target length of a recorded segment in seconds (segments cut at keyframes). Default 4. */
      segmentSeconds: z.number().min(1).max(10).default(4),
      /** The SFU asks the broadcaster for a keyframe this often while recording (ms), so segments stay short. Default 2000. */
      keyframeIntervalMs: z.number().int().min(500).max(10_000).default(2000),
      /** Record jobs running at once per workers process. Default 50. */
      concurrency: z.number().int().min(1).max(1000).default(50),
      /** Finalize jobs (transcodes) at once per workers process. Default 1. */
      finalizeConcurrency: z.number().int().min(1).max(64).default(1),
      /** How often each node sweeps for deleted replays' files it could not remove at once (s). Default 20. */
      removalSweepSeconds: z.number().int().min(1).max(3600).default(20),
    })
    .prefault({}),
  /** Going live from an encoder with a stream key, and WHEP playback (docs/ingest.md). */
  ingest: z
    .strictObject({
      /** Ingest starts (WHIP or RTMP, a resume too) allowed per stream key per `openWindowSeconds`. Default 20. */
      opensPerKey: z.number().int().min(1).max(1_000_000).default(20),
      /** Ingest attempts (any key, valid or not) allowed per client address per `openWindowSeconds`. Default 60. */
      opensPerAddress: z.number().int().min(1).max(1_000_000).default(60),
      /** The window of both, in seconds. Default 60. */
      openWindowSeconds: z.number().int().min(1).max(86_400).default(60),
      /** The RTMP listener, `rtmp://<host>:<port>/live/<stream key>` (docs/ingest.md, "RTMP"). */
      rtmp: z
        .strictObject({
          /** Listen for RTMP encoders. Default true. */
          enabled: z.boolean().default(true),
          /** Address to listen on. Default 127.0.0.1; 0.0.0.0 (or a public address) for encoders elsewhere. */
          host: z.string().min(1).default('127.0.0.1'),
          /** TCP port. Default 1935 (RTMP's); 0 picks a free port. */
          port: port.default(1935),
          /** Encoder connections open at once (each publishing one runs an ffmpeg). Default 50. */
          maxConnections: z.number().int().min(1).max(10_000).default(50),
          /** A connection must publish within this many seconds of connecting. Default 10. */
          publishTimeoutSeconds: z.number().min(0.1).max(300).default(10),
          /** An accepted publish must bring an H.264 keyframe within this many seconds, or it is refused (e.g. audio only). Default 10. */
          mediaTimeoutSeconds: z.number().min(0.1).max(300).default(10),
          /** Keyframes further apart than this draw a `broadcast:warning` to the broadcaster (ms). Default 4000. */
          keyframeWarningMs: z.number().int().min(100).max(60_000).default(4000),
        })
        .prefault({}),
      /** `POST /whep/<broadcast id>` playback (docs/ingest.md, "WHEP"). */
      whep: z
        .strictObject({
          /** WHEP players this node serves at once; beyond, POST answers 503. Default 1000. */
          maxSessions: z.number().int().min(0).max(1_000_000).default(1000),
          /** WHEP POSTs allowed per client address per `windowSeconds` (then 429). Default 30. */
          postsPerAddress: z.number().int().min(1).max(1_000_000).default(30),
          /** The window of `postsPerAddress`, in whole seconds. Default 60. */
          windowSeconds: z.number().int().min(1).max(86_400).default(60),
          /** A session whose player has not connected (DTLS) this long after its POST ends, and its viewer leaves. Default 30. */
          connectTimeoutSeconds: z.number().min(1).max(3600).default(30),
          /** A session whose player ICE lost (consent expired) ends this long after, unless it comes back or restarts ICE. Default 15. */
          disconnectGraceSeconds: z.number().min(0).max(3600).default(15),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Environment variables that map onto config keys (besides SPYGLASS_CONFIG, the file path). */
/** How an environment variable's text becomes a config value; 'hops' is true, false or a count. */
type EnvType = 'string' | 'number' | 'boolean' | 'list' | 'hops';

const ENV_KEYS: Record<string, { path: string[]; type: EnvType }> = {
  NODE_ENV: { path: ['mode'], type: 'string' },
  SPYGLASS_SECRET: { path: ['secret'], type: 'string' },
  DATA_DIR: { path: ['dataDir'], type: 'string' },
  DATABASE_URL: { path: ['databaseUrl'], type: 'string' },
  REDIS_URL: { path: ['redisUrl'], type: 'string' },
  LOG_LEVEL: { path: ['logLevel'], type: 'string' },
  SPYGLASS_SOCKET_ADAPTER: { path: ['socketAdapter'], type: 'string' },
  SPYGLASS_STORAGE: { path: ['storage', 'kind'], type: 'string' },
  SPYGLASS_S3_ENDPOINT: { path: ['storage', 'endpoint'], type: 'string' },
  SPYGLASS_S3_REGION: { path: ['storage', 'region'], type: 'string' },
  SPYGLASS_S3_BUCKET: { path: ['storage', 'bucket'], type: 'string' },
  SPYGLASS_S3_PREFIX: { path: ['storage', 'prefix'], type: 'string' },
  SPYGLASS_S3_ACCESS_KEY: { path: ['storage', 'accessKeyId'], type: 'string' },
  SPYGLASS_S3_SECRET_KEY: { path: ['storage', 'secretAccessKey'], type: 'string' },
  SPYGLASS_S3_FORCE_PATH_STYLE: { path: ['storage', 'forcePathStyle'], type: 'boolean' },
  SPYGLASS_CLUSTER: { path: ['cluster', 'enabled'], type: 'boolean' },
  SPYGLASS_NODE_ID: { path: ['cluster', 'nodeId'], type: 'string' },
  SPYGLASS_HEARTBEAT_MS: { path: ['cluster', 'heartbeatMs'], type: 'number' },
  SPYGLASS_NODE_TTL_MS: { path: ['cluster', 'ttlMs'], type: 'number' },
  SPYGLASS_RELAY_IDLE_MS: { path: ['cluster', 'relayIdleMs'], type: 'number' },
  SPYGLASS_MAX_DIRECT_EDGES: { path: ['cluster', 'maxDirectEdges'], type: 'number' },
  SPYGLASS_NODE_URL: { path: ['cluster', 'nodeUrl'], type: 'string' },
  SPYGLASS_MAX_CONSUMERS_PER_WORKER: { path: ['cluster', 'maxConsumersPerWorker'], type: 'number' },
  SPYGLASS_SHUTDOWN_TIMEOUT_SECONDS: { path: ['shutdownTimeoutSeconds'], type: 'number' },
  SPYGLASS_METRICS_HOST: { path: ['metrics', 'host'], type: 'string' },
  SPYGLASS_METRICS_PORT: { path: ['metrics', 'port'], type: 'number' },
  SPYGLASS_WORKERS_METRICS_PORT: { path: ['metrics', 'workersPort'], type: 'number' },
  HOST: { path: ['http', 'host'], type: 'string' },
  PORT: { path: ['http', 'port'], type: 'number' },
  SPYGLASS_TLS_CERT: { path: ['http', 'tlsCertFile'], type: 'string' },
  SPYGLASS_TLS_KEY: { path: ['http', 'tlsKeyFile'], type: 'string' },
  SPYGLASS_TRUST_PROXY: { path: ['http', 'trustProxy'], type: 'hops' },
  SPYGLASS_PUBLIC_URL: { path: ['http', 'publicUrl'], type: 'string' },
  SPYGLASS_ALLOWED_ORIGINS: { path: ['http', 'allowedOrigins'], type: 'list' },
  SPYGLASS_MEDIASOUP_WORKERS: { path: ['mediasoup', 'numWorkers'], type: 'number' },
  SPYGLASS_MEDIA_LISTEN_IP: { path: ['mediasoup', 'listenIp'], type: 'string' },
  SPYGLASS_MEDIA_ANNOUNCED_ADDRESS: { path: ['mediasoup', 'announcedAddress'], type: 'string' },
  SPYGLASS_MEDIA_PORT: { path: ['mediasoup', 'webRtcPort'], type: 'number' },
  SPYGLASS_RTC_MIN_PORT: { path: ['mediasoup', 'rtcMinPort'], type: 'number' },
  SPYGLASS_RTC_MAX_PORT: { path: ['mediasoup', 'rtcMaxPort'], type: 'number' },
  SPYGLASS_MAX_VIEWERS_PER_ROUTER: { path: ['mediasoup', 'maxViewersPerRouter'], type: 'number' },
  SPYGLASS_TURN_URLS: { path: ['turn', 'urls'], type: 'list' },
  SPYGLASS_TURN_SECRET: { path: ['turn', 'secret'], type: 'string' },
  SPYGLASS_TURN_CREDENTIAL_TTL_SECONDS: { path: ['turn', 'credentialTtlSeconds'], type: 'number' },
  SPYGLASS_TURN_FORCE_RELAY: { path: ['turn', 'forceRelay'], type: 'boolean' },
  SPYGLASS_GRACE_SECONDS: { path: ['live', 'graceSeconds'], type: 'number' },
  SPYGLASS_NO_MEDIA_TIMEOUT_SECONDS: { path: ['live', 'noMediaTimeoutSeconds'], type: 'number' },
  SPYGLASS_GO_LIVES_PER_USER: { path: ['limits', 'goLivesPerUser'], type: 'number' },
  SPYGLASS_GO_LIVES_PER_ADDRESS: { path: ['limits', 'goLivesPerAddress'], type: 'number' },
  SPYGLASS_GO_LIVE_WINDOW_SECONDS: { path: ['limits', 'goLiveWindowSeconds'], type: 'number' },
  SPYGLASS_CONNECTIONS_PER_ADDRESS: { path: ['limits', 'connectionsPerAddress'], type: 'number' },
  SPYGLASS_INGEST_OPENS_PER_KEY: { path: ['ingest', 'opensPerKey'], type: 'number' },
  SPYGLASS_INGEST_OPENS_PER_ADDRESS: { path: ['ingest', 'opensPerAddress'], type: 'number' },
  SPYGLASS_INGEST_OPEN_WINDOW_SECONDS: { path: ['ingest', 'openWindowSeconds'], type: 'number' },
  SPYGLASS_ARCHIVE_LINK_TTL_HOURS: { path: ['archives', 'linkTtlHours'], type: 'number' },
  SPYGLASS_ARCHIVE_MAX_MB: { path: ['archives', 'maxMb'], type: 'number' },
  SPYGLASS_ARCHIVE_SWEEP_GAP_SECONDS: { path: ['archives', 'sweepGapSeconds'], type: 'number' },
  SPYGLASS_ARCHIVE_BACKGROUND_MBPS: { path: ['archives', 'backgroundMbPerSecond'], type: 'number' },
  SPYGLASS_QUEUE_PREFIX: { path: ['queuePrefix'], type: 'string' },
  SPYGLASS_SIGNIN_FAILURES_PER_ACCOUNT: { path: ['limits', 'signInFailuresPerAccount'], type: 'number' },
  SPYGLASS_SIGNIN_ACCOUNT_BLOCK_SECONDS: { path: ['limits', 'signInAccountBlockSeconds'], type: 'number' },
  SPYGLASS_SIGNIN_FAILURES_PER_ADDRESS: { path: ['limits', 'signInFailuresPerAddress'], type: 'number' },
  SPYGLASS_SIGNIN_ADDRESS_WINDOW_SECONDS: { path: ['limits', 'signInAddressWindowSeconds'], type: 'number' },
  SPYGLASS_SIGNUPS_PER_ADDRESS: { path: ['limits', 'signUpsPerAddress'], type: 'number' },
  SPYGLASS_SIGNUP_WINDOW_SECONDS: { path: ['limits', 'signUpWindowSeconds'], type: 'number' },
  SPYGLASS_REPORTS_PER_USER: { path: ['limits', 'reportsPerUser'], type: 'number' },
  SPYGLASS_REPORT_WINDOW_SECONDS: { path: ['limits', 'reportWindowSeconds'], type: 'number' },
  SPYGLASS_HASH_CONCURRENCY: { path: ['limits', 'hashConcurrency'], type: 'number' },
  SPYGLASS_HASH_QUEUE: { path: ['limits', 'hashQueue'], type: 'number' },
  SPYGLASS_RECORDING: { path: ['recording', 'enabled'], type: 'boolean' },
  SPYGLASS_RTMP: { path: ['ingest', 'rtmp', 'enabled'], type: 'boolean' },
  SPYGLASS_RTMP_HOST: { path: ['ingest', 'rtmp', 'host'], type: 'string' },
  SPYGLASS_RTMP_PORT: { path: ['ingest', 'rtmp', 'port'], type: 'number' },
  SPYGLASS_MIN_FREE_MB: { path: ['recording', 'minFreeMb'], type: 'number' },
  SPYGLASS_RECORDING_RTP_HOST: { path: ['recording', 'rtpHost'], type: 'string' },
  SPYGLASS_RECORDING_MIN_PORT: { path: ['recording', 'rtpMinPort'], type: 'number' },
  SPYGLASS_RECORDING_MAX_PORT: { path: ['recording', 'rtpMaxPort'], type: 'number' },
};

/**
 * Admins used to be named in config (`admins`, SPYGLASS_ADMINS): anyone could sign up under a
 * configured name that had no account yet and become admin. Admin is now a role on an existing
 * account, so any value of the old setting is refused with this message.
 */
export const ADMINS_SETTING_REMOVED =
  'config: the admins setting (SPYGLASS_ADMINS) is no longer supported, because a configured name that has no account yet can be taken by anyone who signs up with it. ' +
  'Remove it, and give an existing account the admin role with `npm run admin -- grant-admin <username>` (see docs/security.md)';

/** How many reverse proxies `http.trustProxy` trusts (0: none; `true` is one). */
export function proxyHops(trustProxy: boolean | number): number {
  return trustProxy === true ? 1 : trustProxy === false ? 0 : trustProxy;
}

/** Prefixes we own: an unknown variable with one of these is an error, not silently ignored. */
const OWNED_PREFIX = 'SPYGLASS_';

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let o = target;
  for (const key of path.slice(0, -1)) {
    const next = o[key];
    if (typeof next !== 'object' || next === null) o[key] = {};
    o = o[key] as Record<string, unknown>;
  }
  // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- every path has a key (they come from the schema)
  o[path[path.length - 1]!] = value;
}

function coerce(name: string, raw: string, type: EnvType): unknown {
  if (type === 'string') return raw;
  if (type === 'hops') return /^\d+$/.test(raw.trim()) ? Number(raw) : coerce(name, raw, 'boolean');
  if (type === 'list') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new AppError('BAD_REQUEST', `config: ${name} must be a number, got "${raw}"`);
    return n;
  }
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new AppError('BAD_REQUEST', `config: ${name} must be true or false, got "${raw}"`);
}

/** True for an address or name that only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

export interface LoadConfigOptions {
  /**
   * The secret to use when none is configured (neither file, env nor overrides), given the
   * resolved data directory; processes pass `dataDirSecret` (which persists a random one).
   * Only used outside production on a loopback bind. Default: none (DEFAULT_SECRET).
   */
  secretWhenUnset?: (dataDir: string) => string;
}

/**
 * Builds the configuration: defaults, then the JSON file named by `SPYGLASS_CONFIG` (or
 * `file`), then environment variables. Throws AppError with every problem in one message.
 */
export function loadConfig(env: Record<string, string | undefined>, overrides: ConfigInput = {}, options: LoadConfigOptions = {}): Config {
  let input: Record<string, unknown> = {};
  const file = env.SPYGLASS_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AppError('BAD_REQUEST', `config: cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      input = parsed as Record<string, unknown>;
    } catch (err) {
      throw new AppError('BAD_REQUEST', `config: ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (env.SPYGLASS_ADMINS !== undefined || 'admins' in input || 'admins' in overrides) {
    throw new AppError('BAD_REQUEST', ADMINS_SETTING_REMOVED);
  }
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const spec = ENV_KEYS[name];
    if (spec) {
      if (name === 'NODE_ENV' && !['development', 'production', 'test'].includes(raw)) continue;
      setPath(input, spec.path, coerce(name, raw, spec.type));
    } else if (name.startsWith(OWNED_PREFIX) && name !== 'SPYGLASS_CONFIG') {
      throw new AppError('BAD_REQUEST', `config: unknown environment variable ${name}`);
    }
  }
  input = mergeDeep(input, overrides);
  const r = ConfigSchema.safeParse(input);
  if (!r.success) throw new AppError('BAD_REQUEST', `config: ${describeZodError(r.error)}`);
  const config = r.data;
  const publicHost = config.http.publicUrl === undefined ? undefined : new URL(config.http.publicUrl).hostname;
  const reachable = !isLoopbackHost(config.http.host) || (publicHost !== undefined && !isLoopbackHost(publicHost));
  if (input.secret === undefined && options.secretWhenUnset && config.mode !== 'production' && !reachable) {
    config.secret = options.secretWhenUnset(config.dataDir);
  }
  if (config.secret === DEFAULT_SECRET) {
    if (config.mode === 'production') {
      throw new AppError('BAD_REQUEST', 'config: refusing to start in production with the published default secret; set SPYGLASS_SECRET');
    }
    if (reachable) {
      throw new AppError(
        'BAD_REQUEST',
        `config: refusing the published default secret on a public address (http.host ${config.http.host}${publicHost ? `, publicUrl host ${publicHost}` : ''}): anyone could sign links; set SPYGLASS_SECRET to a long random value`,
      );
    }
  }
  const nodeHost = config.cluster.nodeUrl === undefined ? undefined : new URL(config.cluster.nodeUrl).hostname;
  if (nodeHost !== undefined && publicHost !== undefined && nodeHost !== publicHost) {
    throw new AppError(
      'BAD_REQUEST',
      `config: cluster.nodeUrl must be on the host name of http.publicUrl (${publicHost}), on a port of its own: browsers send the session cookie to that host name only, so a viewer redirected to ${nodeHost} would arrive signed out`,
    );
  }
  if (config.turn.secret !== undefined && config.turn.secret === config.secret) {
    throw new AppError('BAD_REQUEST', 'config: turn.secret must differ from secret (the TURN server holds it too, and must not be able to sign links)');
  }
  if ((config.http.tlsCertFile === undefined) !== (config.http.tlsKeyFile === undefined)) {
    throw new AppError('BAD_REQUEST', 'config: http.tlsCertFile and http.tlsKeyFile go together');
  }
  if (config.mediasoup.rtcMinPort > config.mediasoup.rtcMaxPort) {
    throw new AppError('BAD_REQUEST', 'config: mediasoup.rtcMinPort must not exceed rtcMaxPort');
  }
  if (config.recording.rtpMinPort + 3 > config.recording.rtpMaxPort) {
    throw new AppError('BAD_REQUEST', 'config: recording.rtpMinPort..rtpMaxPort must hold at least 4 ports');
  }
  return config;
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)) {
      out[k] = mergeDeep(prev as Record<string, unknown>, v as Record<string, unknown>);
    } else if (v !== undefined) {
      out[k] = v;
    }
  }
  return out;
}
