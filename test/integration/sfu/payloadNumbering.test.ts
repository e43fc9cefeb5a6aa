import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RtpCapabilities } from '../../../common/protocol/media.ts';
import { Broadcast, type WorkerPool } from '../../../sfu/index.ts';
import { parseWhepOffer } from '../../../signaling/ingest/whep/whepSdp.ts';
import { chromiumRecvonlyOffer } from '../../fixtures/chromiumWhepOffer.ts';
import { audioRtpParameters, clientDtlsParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { appError, createTestPool, silentLogger } from '../../helpers/sfu.ts';

/** A Chromium WHEP player's receive capabilities, without RTX (as signaling/ingest/whep/ passes them). */
const offered = parseWhepOffer(chromiumRecvonlyOffer).rtpCapabilities;
const chromium: RtpCapabilities = { ...offered, codecs: (offered.codecs ?? []).filter((c) => c.mimeType !== 'video/rtx') };
/** The same player with Opus numbered otherwise. */
const renumbered: RtpCapabilities = { ...chromium, codecs: (chromium.codecs ?? []).map((c) => (c.mimeType === 'audio/opus' ? { ...c, preferredPayloadType: 109 } : c)) };

/**
 * Viewers that number payload types themselves (sfu/payloadNumbering.ts) on a real mediasoup
 * worker: an edge of their numbering, shared by alike viewers, fed the producers, consumed with
 * the player's payload types, closed with its last viewer.
 */
describe('Broadcast: viewers with their own payload numbering', () => {
  let pool: WorkerPool;
  let broadcast: Broadcast | undefined;
  let n = 0;
  beforeAll(async () => {
    pool = await createTestPool();
  });
  afterEach(() => {
    broadcast?.close();
    broadcast = undefined;
  });
  afterAll(async () => {
    await pool.close();
  });

  async function live(): Promise<Broadcast> {
    n += 1;
    const b = await Broadcast.create({ id: `b_numbering${String(n).padStart(4, '0')}`, pool, maxViewersPerRouter: 100, logger: silentLogger() });
    broadcast = b;
    const t = await b.createSendTransport();
    await b.connectSendTransport(t.id, clientDtlsParameters);
    await b.produce({ transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
    await b.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    return b;
  }

  it('serves them from an edge of their numbering, shared by alike viewers, with their payload types; others stay on the origin', async () => {
    const b = await live();
    const origin = b.routers[0]?.router.id;
    const plain = await b.addViewer('plain');
    expect(plain.routerId).toBe(origin);
    const first = await b.addViewer('first', chromium);
    const second = await b.addViewer('second', chromium);
    expect(b.edgeCount).toBe(1);
    expect(first.routerId).not.toBe(origin);
    expect(second.routerId).toBe(first.routerId);
    const other = await b.addViewer('other', renumbered);
    expect(b.edgeCount).toBe(2);
    expect(other.routerId).not.toBe(first.routerId);
    const t = await first.createTransport();
    const consumers = await first.consume(t.id, chromium, [
      { kind: 'audio', mid: '0' },
      { kind: 'video', mid: '1' },
    ]);
    const params = consumers.map((c) => c.rtpParameters as { mid?: string; codecs: Array<{ payloadType: number; mimeType: string }> });
    expect(params.map((p) => [p.mid, p.codecs.map((c) => [c.mimeType, c.payloadType])])).toEqual([
      ['0', [['audio/opus', 111]]],
      ['1', [['video/VP8', 96]]],
    ]);
    const t2 = await other.createTransport();
    const renumberedAudio = (await other.consume(t2.id, renumbered, [{ kind: 'audio', mid: 'a' }])).map((c) => c.rtpParameters as { codecs: Array<{ payloadType: number }> });
    // One slot: only the audio producer is consumed, numbered the other player's way.
    expect(renumberedAudio.map((p) => p.codecs[0]?.payloadType)).toEqual([109]);
  });

  it('closes a numbering edge with its last viewer; the next viewer of that numbering opens a new one', async () => {
    const b = await live();
    const first = await b.addViewer('first', chromium);
    const edge = first.routerId;
    expect(b.edgeCount).toBe(1);
    first.close();
    expect(b.edgeCount).toBe(0);
    const later = await b.addViewer('later', chromium);
    expect(later.routerId).not.toBe(edge);
    expect(b.edgeCount).toBe(1);
  });

  it('nothing produced yet: UNAVAILABLE; nothing the device decodes: VALIDATION_FAILED', async () => {
    n += 1;
    const silent = await Broadcast.create({ id: `b_numbering${String(n).padStart(4, '0')}`, pool, maxViewersPerRouter: 100, logger: silentLogger() });
    try {
      expect((await appError(silent.addViewer('v', chromium))).code).toBe('UNAVAILABLE');
    } finally {
      silent.close();
    }
    const b = await live();
    const videoOnly: RtpCapabilities = { ...chromium, codecs: (chromium.codecs ?? []).filter((c) => c.mimeType === 'video/H264') };
    const err = await appError(b.addViewer('v', videoOnly));
    expect([err.code, err.message]).toEqual(['VALIDATION_FAILED', 'this device cannot decode any of the broadcast’s media (audio/opus, video/VP8)']);
    expect(b.edgeCount).toBe(0);
  });
});
