import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const ALLOCATE_OK = 0x0103;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_TRANSPORT: 0x0019 };

export type AllocateResult = { ok: true; relayed: string } | { ok: false; code: number; reason: string };

/**
 * One TURN Allocate (RFC 5766) over UDP with long-term credentials, as a browser makes it:
 * unauthenticated first, answered 401 with the realm and a nonce, then again with USERNAME,
 * REALM, NONCE and MESSAGE-INTEGRITY (HMAC-SHA1 keyed with MD5(username:realm:password)).
 * Resolves with the relayed address, or the error code and reason of the answer.
 */
export async function turnAllocate(o: { host: string; port: number; username: string; password: string; timeoutMs?: number }): Promise<AllocateResult> {
  const socket = dgram.createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
  try {
    const first = await exchange(socket, o, message([[ATTR.REQUESTED_TRANSPORT, requestedUdp()]]));
    if (first.type === ALLOCATE_OK) return { ok: true, relayed: relayed(first.attrs) };
    const error = errorOf(first.attrs);
    const realm = first.attrs.get(ATTR.REALM);
    const nonce = first.attrs.get(ATTR.NONCE);
    if (error.code !== 401 || !realm || !nonce) return { ok: false, ...error };
    const key = createHash('md5').update(`${o.username}:${realm.toString()}:${o.password}`).digest();
    const second = await exchange(
      socket,
      o,
      message(
        [
          [ATTR.REQUESTED_TRANSPORT, requestedUdp()],
          [ATTR.USERNAME, Buffer.from(o.username)],
          [ATTR.REALM, realm],
          [ATTR.NONCE, nonce],
        ],
        key,
      ),
    );
    return second.type === ALLOCATE_OK ? { ok: true, relayed: relayed(second.attrs) } : { ok: false, ...errorOf(second.attrs) };
  } finally {
    socket.close();
  }
}

function requestedUdp(): Buffer {
  return Buffer.from([17, 0, 0, 0]);
}

/** An Allocate request with `attrs`, signed with MESSAGE-INTEGRITY when `key` is given. */
function message(attrs: Array<[number, Buffer]>, key?: Buffer): Buffer {
  const body = Buffer.concat(attrs.map(([type, value]) => attribute(type, value)));
  const header = Buffer.alloc(20);
  header.writeUInt16BE(ALLOCATE, 0);
  header.writeUInt32BE(MAGIC, 4);
  randomBytes(12).copy(header, 8);
  if (!key) {
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  }
  // The length covers MESSAGE-INTEGRITY (24 bytes) when the HMAC is computed.
  header.writeUInt16BE(body.length + 24, 2);
  const hmac = createHmac('sha1', key).update(Buffer.concat([header, body])).digest();
  return Buffer.concat([header, body, attribute(ATTR.MESSAGE_INTEGRITY, hmac)]);
}

function attribute(type: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

function exchange(socket: dgram.Socket, o: { host: string; port: number; timeoutMs?: number }, request: Buffer): Promise<{ type: number; attrs: Map<number, Buffer> }> {
  const id = request.subarray(8, 20);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error(`no answer from the TURN server ${o.host}:${o.port} within ${o.timeoutMs ?? 3000} ms`));
    }, o.timeoutMs ?? 3000);
    const onMessage = (msg: Buffer) => {
      if (msg.length < 20 || msg.readUInt32BE(4) !== MAGIC || !msg.subarray(8, 20).equals(id)) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve({ type: msg.readUInt16BE(0), attrs: parseAttributes(msg.subarray(20, 20 + msg.readUInt16BE(2))) });
    };
    socket.on('message', onMessage);
    socket.send(request, o.port, o.host);
  });
}

function parseAttributes(body: Buffer): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  for (let at = 0; at + 4 <= body.length; ) {
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    if (!attrs.has(type)) attrs.set(type, body.subarray(at + 4, at + 4 + length));
    at += 4 + Math.ceil(length / 4) * 4;
  }
  return attrs;
}

function errorOf(attrs: Map<number, Buffer>): { code: number; reason: string } {
  const e = attrs.get(ATTR.ERROR_CODE);
  if (!e || e.length < 4) return { code: 0, reason: 'no ERROR-CODE in the answer' };
  return { code: (e[2]! & 0x7) * 100 + e[3]!, reason: e.subarray(4).toString() };
}

/** XOR-RELAYED-ADDRESS (IPv4) as `address:port`. */
function relayed(attrs: Map<number, Buffer>): string {
  const a = attrs.get(ATTR.XOR_RELAYED_ADDRESS);
  if (!a || a[1] !== 0x01) return 'unknown';
  const port = a.readUInt16BE(2) ^ (MAGIC >>> 16);
  const ip = (a.readUInt32BE(4) ^ MAGIC) >>> 0;
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${port}`;
}
