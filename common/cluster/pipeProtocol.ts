import { z } from 'zod';
import { BroadcastIdSchema } from '../protocol/ids.ts';
import { RtpParametersSchema } from '../protocol/media.ts';
import { NodeIdSchema } from './nodeIds.ts';

/**
 * Media across nodes (docs/scale.md, "Media across hosts"), over Redis RPC
 * (common/redisRpc.ts). A node that has viewers of a broadcast whose origin is another node
 * (an edge) asks the origin for a pipe: two mediasoup PipeTransports with SRTP
 * (AEAD_AES_256_GCM) and RTX, one on each side, and the origin's pipe consumers feeding the
 * edge's pipe producers, which keep the origin's producer ids.
 *
 * Edge → origin, on `pipeChannels(prefix, originNodeId).origin`:
 *   open   → the edge's endpoint; the origin answers with its own and the producers so far,
 *            or, when it pipes the broadcast to `cluster.maxDirectEdges` edges already, with
 *            one of them to ask instead (`redirect`): that edge's relay pipes it on, and the
 *            broadcast spreads as a tree. Any node serves this channel for the broadcasts it
 *            has (as their origin, or as a relay); "origin" below is whichever feeds the pipe;
 *   close  → the edge has no viewer left (or is closing).
 * Origin → edge, on `pipeChannels(prefix, edgeNodeId).edge`:
 *   producer         → a new producer on the origin, already consumed into the pipe;
 *   producer-closed  → a producer ended (the broadcaster left or re-published);
 *   closed           → the pipe is gone (the broadcast ended, or its media moved).
 *
 * SRTP keys travel over Redis like the recording tap's: keep Redis on a private network.
 */
export function pipeChannels(queuePrefix: string, nodeId: string): { origin: string; edge: string } {
  const id = NodeIdSchema.parse(nodeId);
  return { origin: `${queuePrefix}:pipe:origin:${id}`, edge: `${queuePrefix}:pipe:edge:${id}` };
}

export const PipeSrtpSchema = z.strictObject({
  cryptoSuite: z.literal('AEAD_AES_256_GCM'),
  // 32-byte key + 12-byte salt.
  keyBase64: z.string().regex(/^[A-Za-z0-9+/]{59}=$/, 'a base64 44-byte master key + salt'),
});
export type PipeSrtp = z.infer<typeof PipeSrtpSchema>;

/** One end of a pipe: where its PipeTransport listens, and the key it sends with. */
export const PipeEndpointSchema = z.strictObject({
  ip: z.union([z.ipv4(), z.ipv6()]),
  port: z.number().int().min(1).max(65535),
  srtp: PipeSrtpSchema,
});
export type PipeEndpoint = z.infer<typeof PipeEndpointSchema>;

/** A producer as the edge re-creates it: the origin's id, and the pipe consumer's parameters. */
export const PipedProducerSchema = z.strictObject({
  id: z.uuid(),
  kind: z.enum(['audio', 'video']),
  rtpParameters: RtpParametersSchema,
  paused: z.boolean(),
});
export type PipedProducer = z.infer<typeof PipedProducerSchema>;

const pipeId = z.uuid();

export const OriginRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('open'), broadcastId: BroadcastIdSchema, pipeId, edgeNodeId: NodeIdSchema, edge: PipeEndpointSchema }),
  z.strictObject({ op: z.literal('close'), broadcastId: BroadcastIdSchema, pipeId, edgeNodeId: NodeIdSchema }),
]);
export type OriginRequest = z.infer<typeof OriginRequestSchema>;

export const PipeFedSchema = z.strictObject({ origin: PipeEndpointSchema, producers: z.array(PipedProducerSchema).max(4) });
export type PipeFed = z.infer<typeof PipeFedSchema>;
/** The answer to open: the pipe, or the node to ask instead. */
export const PipeOpenedSchema = z.union([PipeFedSchema, z.strictObject({ redirect: NodeIdSchema })]);
export type PipeOpened = z.infer<typeof PipeOpenedSchema>;

export const EdgeRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('producer'), broadcastId: BroadcastIdSchema, pipeId, producer: PipedProducerSchema }),
  z.strictObject({ op: z.literal('producer-closed'), broadcastId: BroadcastIdSchema, pipeId, producerId: z.uuid() }),
  z.strictObject({ op: z.literal('closed'), broadcastId: BroadcastIdSchema, pipeId }),
]);
export type EdgeRequest = z.infer<typeof EdgeRequestSchema>;

/** The answer to every request but open. */
export const PipeAckSchema = z.strictObject({ ok: z.literal(true) });
