import { describe, expect, it } from 'vitest';
import { MAX_FRAGMENT_BYTES, parseTrickleFragment, writeIceRestartFragment } from '../../../signaling/ingest/sdpLines.ts';
import { thrownAppError } from '../../helpers/sfu.ts';

/** The PATCH bodies of WHIP and WHEP (RFC 8840 fragments), read and answered by one parser and one writer. */

const refusal = thrownAppError;

describe('parseTrickleFragment', () => {
  it('candidates only: no restart; new credentials: a restart', () => {
    expect(parseTrickleFragment('a=ice-ufrag:Z6Qp\r\na=ice-pwd:UAzbUKiVEJky5SO9Ao0lTQSl\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122194687 192.0.2.2 47243 typ host\r\n')).toEqual({
      restart: { usernameFragment: 'Z6Qp', password: 'UAzbUKiVEJky5SO9Ao0lTQSl' },
      candidates: 1,
    });
    expect(parseTrickleFragment('m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122194687 192.0.2.2 47243 typ host\r\na=end-of-candidates\r\n')).toEqual({ candidates: 1 });
    // A WHEP player's trickle (Chromium sends a=mid and candidates without an m= line).
    expect(parseTrickleFragment('a=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\na=end-of-candidates\r\n')).toEqual({ candidates: 1 });
  });

  it('refuses what is not a fragment with BAD_REQUEST (400) and says why; an oversized one with 413', () => {
    const cases: Array<[string, RegExp]> = [
      ['hello', /not an SDP fragment/],
      ['v=0\r\n', /not an SDP fragment/],
      ['a=ice-ufrag:abcd\r\n', /both a=ice-ufrag and a=ice-pwd/],
      ['a=ice-pwd:UAzbUKiVEJky5SO9Ao0lTQSl\r\n', /both a=ice-ufrag and a=ice-pwd/],
      ['a=ice-ufrag:ab\r\na=ice-pwd:UAzbUKiVEJky5SO9Ao0lTQSl\r\n', /malformed/],
      ['a=ice-ufrag:abcd\r\na=ice-pwd:short\r\n', /malformed/],
      ['a=ice-ufrag:ab cd\r\na=ice-pwd:UAzbUKiVEJky5SO9Ao0lTQSl\r\n', /malformed/],
    ];
    for (const [body, message] of cases) {
      const error = refusal(() => parseTrickleFragment(body));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.status).toBe(400);
      expect(error.message).toMatch(message);
    }
    const big = refusal(() => parseTrickleFragment(`a=candidate:${'x'.repeat(MAX_FRAGMENT_BYTES)}\r\n`));
    expect([big.code, big.status]).toEqual(['PAYLOAD_TOO_LARGE', 413]);
  });
});

describe('writeIceRestartFragment', () => {
  const transport = {
    iceParameters: { usernameFragment: 'newufrag', password: 'newpasswordnewpassword' },
    iceCandidates: [
      { foundation: 'udpcandidate', priority: 1076302079, address: '127.0.0.1', protocol: 'udp' as const, port: 40000, type: 'host' as const },
      { foundation: 'tcpcandidate', priority: 1076276479, address: '127.0.0.1', protocol: 'tcp' as const, port: 40001, type: 'host' as const },
    ],
  };

  it('carries the new credentials and the candidates under the first section of the bundle, of its kind', () => {
    expect(writeIceRestartFragment(transport, { kind: 'audio', mid: '0' }).split('\r\n')).toEqual([
      'a=ice-lite',
      'a=ice-ufrag:newufrag',
      'a=ice-pwd:newpasswordnewpassword',
      'm=audio 9 UDP/TLS/RTP/SAVPF 0',
      'a=mid:0',
      'a=candidate:udpcandidate 1 udp 1076302079 127.0.0.1 40000 typ host',
      'a=candidate:tcpcandidate 1 tcp 1076276479 127.0.0.1 40001 typ host tcptype passive',
      'a=end-of-candidates',
      '',
    ]);
    // A WHEP player whose first section is video: the m= line says so (it said audio for every section before).
    expect(writeIceRestartFragment(transport, { kind: 'video', mid: '1' })).toContain('\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\n');
  });
});
