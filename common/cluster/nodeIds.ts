import { z } from 'zod';

/** A node's id: what `SPYGLASS_NODE_ID` may hold (also a Redis key segment). */
export const NodeIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a node id is 1–64 letters, digits, dots, underscores or dashes');
