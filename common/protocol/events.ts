import type { ArchiveSummary } from './archives.ts';
import type { NotificationView } from './profiles.ts';
import { z } from 'zod';
import { BroadcastIdSchema, ChatMessageIdSchema, MediaIdSchema, UserIdSchema, UsernameSchema, type BroadcastId, type ChatMessageId, type UserId } from './ids.ts';
import {
  DtlsParametersSchema,
  RtpCapabilitiesSchema,
  RtpParametersSchema,
  type ConsumerOptions,
  type RtpCapabilities,
  type TransportOptions,
} from './media.ts';
import type { Ack, JoinRedirect } from './errors.ts';
import { controlCharProblem, isHttpOrigin, LIMITS, PASSWORD_RULES } from './rules.ts';

export { LIMITS };

export const VisibilitySchema = z.enum(['public', 'private']);
export type Visibility = z.infer<typeof VisibilitySchema>;

/** Refuses control characters (see `controlCharProblem`) in text that is stored or looked up. */
export function withoutControls<S extends z.ZodType<string>>(schema: S, multiLine = false) {
  return schema.superRefine((text, ctx) => {
    const problem = controlCharProblem(text, multiLine);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

// ---------------------------------------------------------------- requests --

export const StartBroadcastSchema = z.strictObject({
  title: withoutControls(z.string().trim().min(1, 'title is required').max(LIMITS.titleMax)),
  visibility: VisibilitySchema.default('public'),
  invitees: z.array(UsernameSchema).max(LIMITS.inviteesMax).default([]),
});
export const BroadcastRefSchema = z.strictObject({ broadcastId: BroadcastIdSchema });
export const JoinSchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  /**
   * True when the client came here by a `REDIRECT` (or will not follow one): it is served
   * here, whatever the load, so that redirects never loop.
   */
  redirected: z.boolean().default(false),
  /**
   * True: the answer also carries the viewer's receive transport (what `transport:create`
   * answers), saving that round trip. A later `transport:create` replaces it.
   */
  transport: z.boolean().default(false),
  /**
   * With `transport: true`: the device's capabilities, to consume every producer on that
   * transport at once (what `consume` answers, paused), saving that round trip too.
   */
  rtpCapabilities: RtpCapabilitiesSchema.optional(),
}).refine((j) => j.rtpCapabilities === undefined || j.transport, {
  message: 'rtpCapabilities needs transport: true',
  path: ['rtpCapabilities'],
});
export const CreateTransportSchema = z.strictObject({ broadcastId: BroadcastIdSchema });
export const ConnectTransportSchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  transportId: MediaIdSchema,
  dtlsParameters: DtlsParametersSchema,
});
export const ProduceSchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  transportId: MediaIdSchema,
  kind: z.enum(['audio', 'video']),
  rtpParameters: RtpParametersSchema,
});
export const ConsumeSchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  transportId: MediaIdSchema,
  rtpCapabilities: RtpCapabilitiesSchema,
});
/** A viewer's page: how long its join took to present the first video frame (metrics only). */
export const FirstFrameSchema = z.strictObject({ broadcastId: BroadcastIdSchema, ms: z.number().int().min(0).max(120_000) });
export const ResumeConsumerSchema = z.strictObject({ broadcastId: BroadcastIdSchema, consumerId: MediaIdSchema });
export const ChatSendSchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  text: withoutControls(z.string().trim().min(1, 'message is empty').max(LIMITS.chatMax, `message is longer than ${LIMITS.chatMax} characters`)),
});

/** `chat:remove`: the broadcaster (or an admin) removes a chat message. */
export const ChatRemoveSchema = z.strictObject({ messageId: ChatMessageIdSchema });
/** `user:block` / `user:unblock`: the caller blocks (or lets back in) a user, by id. */
export const UserRefSchema = z.strictObject({ userId: UserIdSchema });
/** `chat:slow-mode`: one chat message per `seconds` per person (0 turns it off). */
export const SlowModeSchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  seconds: z
    .number()
    .int(`slow mode must be a whole number of seconds from 0 to ${LIMITS.slowModeMaxSeconds}`)
    .min(0, `slow mode must be a whole number of seconds from 0 to ${LIMITS.slowModeMaxSeconds}`)
    .max(LIMITS.slowModeMaxSeconds, `slow mode must be a whole number of seconds from 0 to ${LIMITS.slowModeMaxSeconds}`),
});

/** `chat:followers-only`: only the broadcaster's followers may chat (true), or every signed-in viewer (false). */
export const FollowersOnlySchema = z.strictObject({
  broadcastId: BroadcastIdSchema,
  enabled: z.boolean({ error: 'enabled must be true or false' }),
});

/** Request schemas by event name: the server validates every payload with these. */
export const RequestSchemas = {
  'broadcast:start': StartBroadcastSchema,
  'broadcast:resume': BroadcastRefSchema,
  'broadcast:stop': BroadcastRefSchema,
  'broadcast:join': JoinSchema,
  'broadcast:leave': BroadcastRefSchema,
  'transport:create': CreateTransportSchema,
  'transport:connect': ConnectTransportSchema,
  produce: ProduceSchema,
  consume: ConsumeSchema,
  'consumer:resume': ResumeConsumerSchema,
  'chat:send': ChatSendSchema,
  'heart:send': BroadcastRefSchema,
  'stats:first-frame': FirstFrameSchema,
  'chat:remove': ChatRemoveSchema,
  'chat:slow-mode': SlowModeSchema,
  'chat:followers-only': FollowersOnlySchema,
  'viewers:list': BroadcastRefSchema,
  'user:block': UserRefSchema,
  'user:unblock': UserRefSchema,
} as const;
export type RequestName = keyof typeof RequestSchemas;
export type RequestInput<E extends RequestName> = z.input<(typeof RequestSchemas)[E]>;
export type Request<E extends RequestName> = z.output<(typeof RequestSchemas)[E]>;

// --------------------------------------------------------------- responses --

/** What a `REDIRECT` carries (`JoinRedirect`); the server checks every redirect it sends with it. */
export const JoinRedirectSchema = z.strictObject({
  url: z.string().max(2048).refine(isHttpOrigin, 'a node URL is an http(s) origin (scheme, host, optional port; no path)'),
}) satisfies z.ZodType<JoinRedirect>;

export interface UserSummary {
  id: UserId;
  username: string;
}

export interface BroadcastSummary {
  id: BroadcastId;
  title: string;
  visibility: Visibility;
  owner: UserSummary;
  /** 'live' while on air, 'reconnecting' while the broadcaster's grace period runs, 'ended' after. */
  status: 'live' | 'reconnecting' | 'ended';
  startedAt: string;
  endedAt: string | null;
  viewerCount: number;
  /** Where its media comes from: the go-live page ('browser') or an encoder with a stream key ('whip', 'rtmp'; docs/ingest.md). */
  source: BroadcastSource;
}

/** Where a broadcast's media comes from. */
export type BroadcastSource = 'browser' | 'whip' | 'rtmp';

/** `GET /api/broadcasts`: one page, newest first; `nextCursor` fetches the next (null on the last page). */
export interface BroadcastList {
  broadcasts: BroadcastSummary[];
  nextCursor: string | null;
}

export interface ChatMessage {
  id: ChatMessageId;
  broadcastId: BroadcastId;
  user: UserSummary;
  text: string;
  /** Milliseconds since the broadcast started: what the replay syncs on. */
  offsetMs: number;
  sentAt: string;
}

/** A broadcast's chat settings: `broadcast:join` answers them, `chat:settings` tells every change. */
export interface ChatSettings {
  /** Slow mode: one message per this many seconds per person; 0 is off. */
  slowModeSeconds: number;
  /** Followers-only: only the broadcaster's followers (and the broadcaster, and admins) may chat. */
  followersOnly: boolean;
}

/** `viewers:list`: who watches a broadcast, over every node (the broadcaster's own connections left out). */
export interface ViewerList {
  broadcastId: BroadcastId;
  /** Signed-in viewers, one entry per person, by username. */
  viewers: UserSummary[];
  /** Anonymous viewers, counted as `viewers:count` does: one per client address. */
  anonymous: number;
}

/** `GET /api/blocks`: whom the caller blocked, newest first. */
export interface BlockList {
  blocked: Array<{ user: UserSummary; blockedAt: string }>;
}

export interface Responses {
  'broadcast:start': { broadcast: BroadcastSummary; rtpCapabilities: RtpCapabilities };
  'broadcast:resume': { broadcast: BroadcastSummary; rtpCapabilities: RtpCapabilities };
  'broadcast:stop': { broadcast: BroadcastSummary };
  'broadcast:join': {
    broadcast: BroadcastSummary;
    rtpCapabilities: RtpCapabilities;
    recentChat: ChatMessage[];
    /** Slow mode: one chat message per this many seconds per person (0: off); `chat:settings` tells changes. */
    slowModeSeconds: number;
    /** Followers-only chat (`chat:settings` tells changes). */
    followersOnly: boolean;
    /** The receive transport, when asked for (`transport: true`) and the broadcast is not ended. */
    transport?: TransportOptions;
    /** The consumers on it, when the join brought `rtpCapabilities` (as `consume` answers them: paused). */
    consumers?: ConsumerOptions[];
  };
  'broadcast:leave': Record<string, never>;
  'transport:create': TransportOptions;
  'transport:connect': Record<string, never>;
  produce: { producerId: string };
  consume: { consumers: ConsumerOptions[] };
  'consumer:resume': Record<string, never>;
  'chat:send': { message: ChatMessage };
  'heart:send': Record<string, never>;
  'stats:first-frame': Record<string, never>;
  'chat:remove': { broadcastId: BroadcastId; messageId: ChatMessageId };
  'chat:slow-mode': { broadcastId: BroadcastId } & ChatSettings;
  'chat:followers-only': { broadcastId: BroadcastId } & ChatSettings;
  'viewers:list': ViewerList;
  'user:block': { user: UserSummary };
  'user:unblock': Record<string, never>;
}

// ------------------------------------------------------------- event maps --

/** Events the browser sends; every one carries an ack callback. */
export type ClientToServerEvents = {
  [E in RequestName]: (payload: RequestInput<E>, ack: (res: Ack<Responses[E]>) => void) => void;
};

/**
 * Why a broadcast ended. 'service-closing': the sunset reached read-only (docs/sunset.md).
 * 'no-media': no media arrived within `live.noMediaTimeoutSeconds` of going live.
 * 'ended-by-admin': an admin ended it (a report); 'account-suspended': an admin suspended the
 * broadcaster (docs/moderation.md).
 */
export type EndReason =
  | 'stopped'
  | 'broadcaster-left'
  | 'server-shutdown'
  | 'recording-unavailable'
  | 'service-closing'
  | 'no-media'
  | 'ended-by-admin'
  | 'account-suspended';

/** Events the server pushes to clients in a broadcast. */
export interface ServerToClientEvents {
  'viewers:count': (e: { broadcastId: BroadcastId; count: number }) => void;
  'chat:message': (e: ChatMessage) => void;
  /** The broadcaster or an admin removed a message: every client drops it from its chat. */
  'chat:removed': (e: { broadcastId: BroadcastId; messageId: ChatMessageId }) => void;
  /** The broadcaster or an admin changed the chat's settings (slow mode, followers-only): all of them, as they are now. */
  'chat:settings': (e: { broadcastId: BroadcastId } & ChatSettings) => void;
  /**
   * To a user the broadcaster blocked, on each of their connections: they no longer watch this
   * broadcast (the server removed them from it) and cannot join it again.
   */
  'broadcast:removed': (e: { broadcastId: BroadcastId }) => void;
  /** Hearts are aggregated on the server and sent as a count per flush interval. */
  hearts: (e: { broadcastId: BroadcastId; count: number }) => void;
  /** The broadcaster produced a new track: viewers call `consume` again. */
  'producer:new': (e: { broadcastId: BroadcastId; kind: 'audio' | 'video' }) => void;
  /** Status changes: 'reconnecting' while the broadcaster is away, 'live' when back. */
  'broadcast:status': (e: { broadcastId: BroadcastId; status: 'live' | 'reconnecting' }) => void;
  /** The media path of this client was lost (a media worker died, or the broadcast's origin node changed): rejoin to continue. */
  'broadcast:interrupted': (e: { broadcastId: BroadcastId; reason: 'media-worker-died' | 'origin-moved' }) => void;
  'broadcast:ended': (e: { broadcastId: BroadcastId; reason: EndReason }) => void;
  /**
   * To a viewer of a node an admin drains (several nodes): join again on `url` (another node,
   * with `redirected: true`) and leave this node once the video plays there.
   */
  'broadcast:move': (e: { broadcastId: BroadcastId; url: string }) => void;
  /**
   * To the broadcast's room: the encoder's stream (RTMP ingest, docs/ingest.md) is live but
   * something in it hurts viewers — keyframes more than 4 s apart, or B-frames. The go-live page
   * shows it to the broadcaster; viewers ignore it. Sent once per encoder connection and code.
   */
  'broadcast:warning': (e: { broadcastId: BroadcastId; code: 'keyframe-interval' | 'b-frames'; message: string }) => void;
  /** To the broadcast's room: the recording runs, or stopped before the end (with why, e.g. disk space). */
  'recording:status': (e: { broadcastId: BroadcastId; state: 'recording' | 'stopped'; reason: string | null }) => void;
  /** To the user (every connection of theirs): their archive's progress, readiness or failure. */
  'archive:status': (e: { archive: ArchiveSummary }) => void;
  /** To the user (every connection of theirs, on every node): a new notification, e.g. someone they follow went live. */
  'notification:new': (e: { notification: NotificationView }) => void;
  /** Sent when a message is dropped without an ack (malformed or unknown event). */
  'error:dropped': (e: { code: string; message: string }) => void;
}

// ------------------------------------------------------------------- HTTP --

export const SignUpSchema = z.strictObject({
  username: UsernameSchema,
  password: z
    .string()
    .min(PASSWORD_RULES.min, `password must be at least ${PASSWORD_RULES.min} characters`)
    .max(PASSWORD_RULES.max, `password must be at most ${PASSWORD_RULES.max} characters`),
});
export const SignInSchema = z.strictObject({
  username: withoutControls(z.string().trim().min(1).max(64)),
  password: z.string().min(1).max(256),
});

/** `PATCH /api/replays/:id`: rename and/or change who may watch (invitees only with 'private'). */
export const ReplayChangeSchema = z
  .strictObject({
    title: withoutControls(
      z
        .string()
        .trim()
        .min(1, 'title is required')
        .max(LIMITS.titleMax, `title must be at most ${LIMITS.titleMax} characters`),
    ).optional(),
    visibility: VisibilitySchema.optional(),
    invitees: z.array(UsernameSchema).max(LIMITS.inviteesMax, `at most ${LIMITS.inviteesMax} invitees`).optional(),
  })
  .refine((c) => c.title !== undefined || c.visibility !== undefined, { message: 'nothing to change: give a title or a visibility' })
  .refine((c) => c.invitees === undefined || c.visibility === 'private', { message: 'invitees go with visibility "private"', path: ['invitees'] });
export type ReplayChange = z.infer<typeof ReplayChangeSchema>;

/** `DELETE /api/account`: the password again. */
export const DeleteAccountSchema = z.strictObject({
  password: z.string().min(1, 'password is required').max(256),
});

/** `POST /api/blocks`: block a user by username. */
export const BlockUserSchema = z.strictObject({ username: UsernameSchema });

/** `POST /api/auth/password`. */
export const ChangePasswordSchema = z.strictObject({
  currentPassword: z.string().min(1, 'current password is required').max(256),
  newPassword: SignUpSchema.shape.password,
});

export interface AuthResponse {
  user: UserSummary;
  /** A bearer token for API clients; browsers use the httpOnly cookie instead. */
  token: string;
}
