import type { RtpCapabilities } from '../common/protocol/media.ts';
import type { WorkerPool } from './WorkerPool.ts';
import { toWireRtpCapabilities } from './wire.ts';

/**
 * The RTP capabilities every broadcast's router has (they all take `mediaCodecs`), read from a
 * router made for the purpose and closed at once: what an encoder's offer is matched against
 * before any broadcast exists (WHIP, signaling/ingest/whip/).
 */
export async function routerRtpCapabilities(pool: WorkerPool): Promise<RtpCapabilities> {
  const router = await pool.pick().createRouter();
  try {
    return toWireRtpCapabilities(router.rtpCapabilities);
  } finally {
    router.close();
  }
}
