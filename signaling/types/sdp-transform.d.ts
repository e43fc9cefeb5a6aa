// The parts of sdp-transform (a dependency of mediasoup-client; untyped) that WHIP ingest
// (signaling/ingest/whip/) and WHEP playback (signaling/ingest/whep/) use. Values that look like integers are parsed as numbers: a mid "0",
// an ICE ufrag "1234" or an SSRC are numbers, so every field that is a token in SDP is typed
// `string | number` here and read with String().
declare module 'sdp-transform' {
  type Token = string | number;

  export interface MediaAttributes {
    type: string;
    port: number;
    protocol: string;
    payloads?: Token;
    connection?: { version: number; ip: string };
    mid?: Token;
    direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
    iceUfrag?: Token;
    icePwd?: Token;
    iceOptions?: Token;
    fingerprint?: { type: string; hash: string };
    setup?: string;
    rtcpMux?: string;
    rtcpRsize?: string;
    rtp: Array<{ payload: number; codec: string; rate?: number; encoding?: Token }>;
    fmtp: Array<{ payload: number; config: string }>;
    rtcpFb?: Array<{ payload: Token; type: string; subtype?: Token }>;
    ext?: Array<{ value: number; direction?: string; uri: string; 'encrypt-uri'?: string; config?: string }>;
    extmapAllowMixed?: string;
    ssrcs?: Array<{ id: number; attribute: string; value?: Token }>;
    ssrcGroups?: Array<{ semantics: string; ssrcs: Token }>;
    rids?: Array<{ id: Token; direction: string; params?: string }>;
    simulcast?: { dir1: string; list1: Token; dir2?: string; list2?: Token };
    simulcast_03?: { value: string };
    candidates?: Array<{
      foundation: Token;
      component: number;
      transport: string;
      priority: number;
      ip: string;
      port: number;
      type: string;
      raddr?: string;
      rport?: number;
      tcptype?: string;
      generation?: number;
    }>;
    endOfCandidates?: string;
    bundleOnly?: string;
    invalid?: Array<{ value: string }>;
  }

  export interface SessionDescription {
    version?: number;
    origin?: { username: Token; sessionId: Token; sessionVersion: number; netType: string; ipVer: number; address: string };
    name?: Token;
    timing?: { start: number; stop: number };
    connection?: { version: number; ip: string };
    iceUfrag?: Token;
    icePwd?: Token;
    iceOptions?: Token;
    icelite?: string;
    fingerprint?: { type: string; hash: string };
    setup?: string;
    direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
    groups?: Array<{ type: string; mids: Token }>;
    msidSemantic?: { semantic: string; token: string };
    extmapAllowMixed?: string;
    media: MediaAttributes[];
  }

  /** Parses an SDP blob; lines it does not understand are skipped, never an error. */
  export function parse(sdp: string): SessionDescription;

  /** Parses an fmtp configuration (`a=1;b=x`) into its parameters (integers as numbers). */
  export function parseParams(config: string): Record<string, Token>;
}
