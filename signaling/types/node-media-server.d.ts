// The part of node-media-server (untyped, CommonJS) that the RTMP ingest uses: its RTMP protocol
// engine alone — handshake, chunk stream, AMF0 commands — without its server, context or store
// (signaling/ingest/rtmp/RtmpProtocol.ts, docs/ingest.md "RTMP").
declare module 'node-media-server/src/protocol/rtmp.js' {
  /** One RTMP message as the engine parsed it (type 8 audio, 9 video, 18 data). */
  interface AVPacket {
    codec_type: number;
    /** Milliseconds. */
    dts: number;
    size: number;
    /** The message payload: its first `size` bytes (the buffer is reused for the next message). */
    data: Buffer;
  }

  interface InvokeMessage {
    cmd: string;
    transId: number;
    cmdObj?: Record<string, unknown> | null;
    streamName?: string;
  }

  interface RtmpPacket {
    header: { fmt: number; cid: number; timestamp: number; length: number; type: number; stream_id: number };
    clock: number;
    payload: Buffer;
    capacity: number;
    bytes: number;
  }

  class Rtmp {
    onConnectCallback: (req: { app: string; name: string; host: string; query: unknown }) => void;
    onPlayCallback: () => void;
    onPushCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    /** Feeds bytes read from the socket; returns an error message or null. May throw on malformed input. */
    parserData(buffer: Buffer): string | null;
    parserPacket: RtmpPacket;
    /** The message being read on each chunk stream id. */
    inPackets: Map<number, RtmpPacket>;
    streamApp?: string;
    streamId?: number;
    connectCmdObj?: Record<string, unknown>;
    objectEncoding?: number;
    onConnect(invokeMessage: InvokeMessage): void;
    onPublish(invokeMessage: InvokeMessage): void;
    onPlay(invokeMessage: InvokeMessage): void;
    invokeHandler(): void;
    packetAlloc(): void;
    respondPublish(): void;
    sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  }
  export default Rtmp;
}

declare module 'node-media-server/src/protocol/amf.js' {
  /** Decodes an AMF0 command message (name, transaction id, command object, arguments). */
  export function decodeAmf0Cmd(payload: Buffer): { cmd: string; transId: number; cmdObj?: unknown; streamName?: string };
}
