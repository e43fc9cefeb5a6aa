import Rtmp from 'node-media-server/src/protocol/rtmp.js';
import { decodeAmf0Cmd } from 'node-media-server/src/protocol/amf.js';

/** What one RTMP connection tells its owner. */
export interface RtmpProtocolHooks {
  /** Bytes to send to the encoder. */
  output(data: Buffer): void;
  /** `publish` of `streamName` (the stream key) in application `app`; answer with {@link RtmpProtocol.acceptPublish} or {@link RtmpProtocol.refusePublish}. */
  publish(app: string, streamName: string): void;
  /** `play`: the ingest serves no playback. */
  play(): void;
  /** `FCUnpublish`, `deleteStream` or `closeStream`: the encoder stopped on purpose (OBS "Stop Streaming"). */
  unpublish(): void;
  /** An audio (8), video (9) or data (18) message: its type, timestamp in ms and body (a copy). */
  media(type: number, timestampMs: number, body: Buffer): void;
}

/** The largest RTMP message accepted before `publish` is accepted (commands are a few hundred bytes). */
const MAX_COMMAND_BYTES = 64 * 1024;
/** The largest RTMP message accepted from a publishing encoder (a 4K keyframe is a few hundred KiB). */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Chunk streams one connection may use (an encoder uses 3–6); each may hold one message being read. */
const MAX_CHUNK_STREAMS = 16;

/**
 * node-media-server's RTMP engine (handshake, chunk stream, AMF0 commands) for one connection,
 * with the changes the ingest needs (docs/ingest.md, "RTMP"): `publish` is answered only when
 * the owner has checked the stream key (the engine itself answers `NetStream.Publish.Start` at
 * once), `play` is refused, unpublishing is reported, and a message over 64 KiB before the
 * publish is accepted (8 MiB after) or more than 16 chunk streams are errors rather than
 * allocations. `feed` throws on malformed input.
 */
export class RtmpProtocol extends Rtmp {
  readonly #hooks: RtmpProtocolHooks;
  #publishStreamId = 0;
  #publishing = false;

  constructor(hooks: RtmpProtocolHooks) {
    super();
    this.#hooks = hooks;
    this.onOutputCallback = (data) => {
      hooks.output(data);
    };
    this.onPacketCallback = (packet) => {
      hooks.media(packet.codec_type, packet.dts, Buffer.from(packet.data.subarray(0, packet.size)));
    };
  }

  /** Bytes from the socket. Throws an Error on input that is not RTMP. */
  feed(data: Buffer): void {
    const error = this.parserData(data);
    if (error !== null) throw new Error(error);
  }

  override packetAlloc(): void {
    // The engine allocates a message's whole length when its first chunk comes: before the key
    // is accepted, a client may make it allocate no more than a command's size.
    const max = this.#publishing ? MAX_MESSAGE_BYTES : MAX_COMMAND_BYTES;
    if (this.parserPacket.header.length > max) throw new Error(`an RTMP message of ${String(this.parserPacket.header.length)} bytes (at most ${String(max)} now)`);
    if (this.inPackets.size > MAX_CHUNK_STREAMS) throw new Error(`more than ${String(MAX_CHUNK_STREAMS)} RTMP chunk streams`);
    super.packetAlloc();
  }

  override onConnect(invokeMessage: Parameters<Rtmp['onConnect']>[0]): void {
    const tcUrl = invokeMessage.cmdObj?.tcUrl;
    if (typeof tcUrl !== 'string' || !URL.canParse(tcUrl) || typeof invokeMessage.cmdObj?.app !== 'string') throw new Error('connect without a tcUrl or app');
    super.onConnect(invokeMessage);
  }

  override invokeHandler(): void {
    const header = this.parserPacket.header;
    const offset = header.type === 17 ? 1 : 0;
    const command = decodeAmf0Cmd(this.parserPacket.payload.subarray(offset, header.length));
    switch (command.cmd) {
      case 'publish':
        if (typeof command.streamName !== 'string') throw new Error('publish without a stream name');
        this.#publishStreamId = header.stream_id;
        this.#hooks.publish(this.streamApp ?? '', command.streamName);
        return;
      case 'play':
        this.#hooks.play();
        return;
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        this.#hooks.unpublish();
        return;
      default:
        super.invokeHandler();
    }
  }

  /** `NetStream.Publish.Start`: the encoder may send media. */
  acceptPublish(): void {
    this.#publishing = true;
    this.sendStatusMessage(this.#publishStreamId, 'status', 'NetStream.Publish.Start', 'publishing');
  }

  /** An error status for the publish (`NetStream.Publish.BadName` for a wrong key, `NetStream.Publish.Denied` otherwise) with a readable description. */
  refusePublish(code: 'NetStream.Publish.BadName' | 'NetStream.Publish.Denied', description: string): void {
    this.sendStatusMessage(this.#publishStreamId, 'error', code, description);
  }
}
