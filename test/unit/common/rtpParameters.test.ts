import { describe, expect, it } from 'vitest';
import { RtpParametersSchema } from '../../../common/protocol/media.ts';

/**
 * Found by the socket.io fuzz (seed 804600068): a `produce` whose encoding had neither an SSRC
 * nor a RID reached mediasoup's worker, which logged an error. The boundary refuses it.
 */
describe('RtpParametersSchema', () => {
  const codecs = [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }];
  it('takes encodings named by SSRC or by RID', () => {
    expect(RtpParametersSchema.safeParse({ codecs, encodings: [{ ssrc: 1234 }] }).success).toBe(true);
    expect(RtpParametersSchema.safeParse({ codecs, encodings: [{ rid: 'r0' }, { rid: 'r1', maxBitrate: 500_000 }] }).success).toBe(true);
  });
  it('refuses an encoding with neither', () => {
    const r = RtpParametersSchema.safeParse({ codecs, encodings: [{ ssrc: 1 }, { maxBitrate: 500_000 }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('every encoding needs an ssrc or a rid');
  });
});
