import { z } from 'zod';
import { VisibilitySchema, withoutControls, type BroadcastSummary, type Visibility } from './events.ts';
import { LIMITS, STREAM_KEY_LIMITS } from './rules.ts';

/**
 * Stream keys (docs/ingest.md, docs/http-api.md): an encoder (OBS over WHIP or RTMP) goes live
 * with one as its owner. The schemas are the server's; the browser imports only the types.
 */

/** A key's id on the wire (`k_…`): what the API and the list name it by; never the secret. */
export const StreamKeyIdSchema = z.string().regex(/^k_[A-Za-z0-9_-]{8,40}$/, 'not a stream key id');

const name = withoutControls(
  z
    .string()
    .trim()
    .min(1, 'name is required')
    .max(STREAM_KEY_LIMITS.nameMax, `name must be at most ${STREAM_KEY_LIMITS.nameMax} characters`),
);
const title = withoutControls(
  z
    .string()
    .trim()
    .min(1, 'title is required')
    .max(LIMITS.titleMax, `title must be at most ${LIMITS.titleMax} characters`),
);

/** `POST /api/stream-keys`: a name for the list, and the title and visibility of its broadcasts. */
export const StreamKeyCreateSchema = z.strictObject({
  name,
  title,
  visibility: VisibilitySchema.default('public'),
});
export type StreamKeyCreate = z.infer<typeof StreamKeyCreateSchema>;

/** `PATCH /api/stream-keys/:id`: any of the three. */
export const StreamKeyChangeSchema = z
  .strictObject({ name: name.optional(), title: title.optional(), visibility: VisibilitySchema.optional() })
  .refine((c) => c.name !== undefined || c.title !== undefined || c.visibility !== undefined, { message: 'nothing to change: give a name, a title or a visibility' });
export type StreamKeyChange = z.infer<typeof StreamKeyChangeSchema>;

/** A stream key as its owner lists it: never its secret, which is shown once, at creation. */
export interface StreamKeyView {
  id: string;
  name: string;
  title: string;
  visibility: Visibility;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** When an encoder last went live (or resumed) with it; null if never. */
  lastUsedAt: string | null;
}

/** `POST /api/stream-keys`' answer: the key and its secret, which is never shown again. */
export interface CreatedStreamKey {
  key: StreamKeyView;
  /** `sk_` + 43 base64url characters (32 random bytes). */
  secret: string;
}

/** `GET /api/stream-keys`: the caller's unrevoked keys, oldest first, and where encoders send. */
export interface StreamKeyList {
  keys: StreamKeyView[];
  /** The RTMP listener's port on this service's host (`rtmp://<host>:<port>/live/<secret>`); null when RTMP ingest is off. */
  rtmpPort: number | null;
  /** The caller's broadcast that an encoder started and that has not ended, or null: the go-live page shows it. */
  live: BroadcastSummary | null;
}
