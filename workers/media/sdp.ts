import { isIP } from 'node:net';
import { TapStreamSchema, type TapStream } from '../../common/jobs/tap.ts';

/**
 * The SDP that tells ffmpeg what SRTP to expect: one `m=` section per stream, e.g.
 *
 *   m=video 40000 RTP/AVP 96
 *   a=rtcp:40001
 *   a=rtpmap:96 VP8/90000
 *   a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<key>
 *   a=source-filter: incl IN IP4 * 10.0.0.5 10.0.0.9
 *   a=recvonly
 *
 * ffmpeg 5.1 binds the RTP port and the next one for RTCP (on the SDP demuxer's
 * `-localaddr`, see recorderArgs), and ignores `a=rtcp` (written anyway, for readers): so
 * `rtcpPort` must be `rtpPort + 1`, or RTCP (sender reports, which ffmpeg uses to align audio
 * and video) would go nowhere. With `a=crypto` it decrypts SRTP and SRTCP and drops every
 * packet that fails authentication ("HMAC mismatch"). `a=source-filter` makes it drop
 * packets (RTP and RTCP) from any other source address (not port): the stream's `sourceIp`
 * (the SFU) and `host` itself, where the recorder's own stop BYE comes from.
 *
 * The result holds the keys: never write it to disk or a log (it goes to ffmpeg's stdin).
 * @throws Error on an invalid stream, host, duplicate port or payload type.
 */
export function buildSdp(opts: { host: string; streams: TapStream[] }): string {
  const family = isIP(opts.host);
  if (family === 0) throw new Error(`SDP host is not an IP address: ${JSON.stringify(opts.host)}`);
  if (opts.streams.length === 0) throw new Error('SDP needs at least one stream');
  const ip = `IN IP${family} ${opts.host}`;
  const ports = new Set<number>();
  const payloadTypes = new Set<number>();
  const lines = ['v=0', `o=- 0 0 ${ip}`, 's=Spyglass recording', `c=${ip}`, 't=0 0'];

  for (const [i, raw] of opts.streams.entries()) {
    const parsed = TapStreamSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`SDP stream ${i}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    const s = parsed.data;
    const [kind, codec] = s.mimeType.split('/');
    if (kind?.toLowerCase() !== s.kind || !codec || !/^[A-Za-z0-9-]+$/.test(codec)) {
      throw new Error(`SDP stream ${i}: mimeType ${JSON.stringify(s.mimeType)} does not fit kind ${s.kind}`);
    }
    if (s.rtcpPort !== s.rtpPort + 1) {
      throw new Error(`SDP stream ${i}: rtcpPort must be rtpPort + 1 (ffmpeg listens for RTCP there), got ${s.rtpPort}/${s.rtcpPort}`);
    }
    for (const port of [s.rtpPort, s.rtcpPort]) {
      if (ports.has(port)) throw new Error(`SDP stream ${i}: port ${port} is used twice`);
      ports.add(port);
    }
    if (payloadTypes.has(s.payloadType)) throw new Error(`SDP stream ${i}: payload type ${s.payloadType} is used twice`);
    payloadTypes.add(s.payloadType);

    lines.push(`m=${s.kind} ${s.rtpPort} RTP/AVP ${s.payloadType}`, `a=rtcp:${s.rtcpPort}`);
    const channels = s.kind === 'audio' && s.channels ? `/${s.channels}` : '';
    lines.push(`a=rtpmap:${s.payloadType} ${codec}/${s.clockRate}${channels}`);
    const params = Object.entries(s.parameters).map(([k, v]) => {
      if (!/^[A-Za-z0-9._-]+$/.test(k) || !/^[^\s;]+$/.test(String(v))) {
        throw new Error(`SDP stream ${i}: bad fmtp parameter ${JSON.stringify(k)}=${JSON.stringify(v)}`);
      }
      return `${k}=${v}`;
    });
    if (params.length > 0) lines.push(`a=fmtp:${s.payloadType} ${params.join(';')}`);
    lines.push(`a=crypto:1 ${s.srtp.cryptoSuite} inline:${s.srtp.keyBase64}`);
    if (s.sourceIp !== null) {
      if (isIP(s.sourceIp) !== family) {
        throw new Error(`SDP stream ${i}: source ${JSON.stringify(s.sourceIp)} is not an IPv${family} address like the host`);
      }
      const sources = s.sourceIp === opts.host ? [s.sourceIp] : [s.sourceIp, opts.host];
      lines.push(`a=source-filter: incl IN IP${family} * ${sources.join(' ')}`);
    }
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}
