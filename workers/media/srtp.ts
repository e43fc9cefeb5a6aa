import { createCipheriv, createHmac, randomBytes, randomInt } from 'node:crypto';

/**
 * SRTP keying for the hop from the SFU to the recorder (RFC 3711, RFC 4568 SDES). The one
 * suite both mediasoup's PlainTransport and ffmpeg 5.1's RTP demuxer speak:
 * AES_CM_128_HMAC_SHA1_80, keyed by 30 bytes (16 key + 14 salt) written as base64.
 *
 * Why hand-written: the media itself is protected by mediasoup and unprotected by ffmpeg;
 * Spyglass protects exactly one packet per recording run — the RTCP BYE that tells ffmpeg to
 * stop (protectRtcp below). The one npm SRTP implementation (werift-rtp) is a whole RTP stack
 * with its own session state; this needs the RFC 3711 key derivation and one AES-CTR + HMAC
 * over node:crypto, ~40 lines, checked by ffmpeg itself accepting the BYE
 * (test/integration/workers/recorder.test.ts, "stop() ends a recorder … (RTCP BYE)").
 */
export const SRTP_CRYPTO_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;

/** Master key + salt length of {@link SRTP_CRYPTO_SUITE}. */
const MASTER_LENGTH = 30;
const KEY_LENGTH = 16;
const SALT_LENGTH = 14;
const AUTH_KEY_LENGTH = 20;
const AUTH_TAG_LENGTH = 10;

/** A fresh random master key + salt, base64 (what mediasoup's `srtpParameters.keyBase64` holds). */
export function newSrtpKey(): string {
  return randomBytes(MASTER_LENGTH).toString('base64');
}

/** Whether `keyBase64` is a well-formed master key + salt for {@link SRTP_CRYPTO_SUITE}. */
export function isSrtpKey(keyBase64: string): boolean {
  return /^[A-Za-z0-9+/]{40}$/.test(keyBase64) && Buffer.from(keyBase64, 'base64').length === MASTER_LENGTH;
}

/** RFC 3711 §4.3: AES-CM key derivation with key_derivation_rate 0. */
function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0);
  // key_id = label || r (r = 0) is right-aligned under the 112-bit salt: the label is byte 7.
  iv.writeUInt8(iv.readUInt8(7) ^ label, 7);
  const cipher = createCipheriv('aes-128-ctr', masterKey, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

/**
 * Protects one RTCP compound packet as SRTCP (encrypted after the first 8 bytes, E flag
 * and index appended, 80-bit HMAC-SHA1 tag) with `keyBase64`, as the SFU would. Used to
 * send the recorder its stop BYE: ffmpeg drops any RTCP that fails authentication.
 * @param index the SRTCP index (31 bits); random when omitted.
 */
export function protectRtcp(packet: Buffer, keyBase64: string, index = randomInt(1, 0x7fff_ffff)): Buffer {
  if (!isSrtpKey(keyBase64)) throw new Error('not an AES_CM_128_HMAC_SHA1_80 master key');
  if (packet.length < 8) throw new Error('an RTCP packet has at least 8 bytes');
  const master = Buffer.from(keyBase64, 'base64');
  const masterKey = master.subarray(0, KEY_LENGTH);
  const masterSalt = master.subarray(KEY_LENGTH, KEY_LENGTH + SALT_LENGTH);
  const encKey = deriveKey(masterKey, masterSalt, 0x03, KEY_LENGTH);
  const authKey = deriveKey(masterKey, masterSalt, 0x04, AUTH_KEY_LENGTH);
  const salt = deriveKey(masterKey, masterSalt, 0x05, SALT_LENGTH);

  // IV = (salt · 2^16) XOR (SSRC · 2^64) XOR (index · 2^16).
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0);
  for (let i = 0; i < 4; i++) iv.writeUInt8(iv.readUInt8(4 + i) ^ packet.readUInt8(4 + i), 4 + i);
  const idx = Buffer.alloc(4);
  idx.writeUInt32BE(index & 0x7fff_ffff);
  for (let i = 0; i < 4; i++) iv.writeUInt8(iv.readUInt8(10 + i) ^ idx.readUInt8(i), 10 + i);
  const cipher = createCipheriv('aes-128-ctr', encKey, iv);
  const body = Buffer.concat([cipher.update(packet.subarray(8)), cipher.final()]);

  const eIndex = Buffer.alloc(4);
  eIndex.writeUInt32BE((0x8000_0000 | (index & 0x7fff_ffff)) >>> 0);
  const authenticated = Buffer.concat([packet.subarray(0, 8), body, eIndex]);
  const tag = createHmac('sha1', authKey).update(authenticated).digest().subarray(0, AUTH_TAG_LENGTH);
  return Buffer.concat([authenticated, tag]);
}
