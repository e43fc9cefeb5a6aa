import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../../signaling/store/passwords.ts';

describe('passwords', () => {
  it('encodes scrypt with N=2^15, r=8, p=1, a 16-byte salt and a 32-byte key', async () => {
    const encoded = await hashPassword('correct horse battery staple');
    const [scheme, n, r, p, salt, hash, ...rest] = encoded.split('$');
    expect(rest).toEqual([]);
    expect([scheme, n, r, p]).toEqual(['scrypt', '32768', '8', '1']);
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
    expect(Buffer.from(hash!, 'base64')).toHaveLength(32);
  });

  it('verifies the right password and rejects wrong ones', async () => {
    const encoded = await hashPassword('correct horse battery staple');
    expect(await verifyPassword('correct horse battery staple', encoded)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', encoded)).toBe(false);
    expect(await verifyPassword('Correct horse battery staple', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  it('gives two hashes of the same password different salts and hashes', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  it('matches Unicode passwords regardless of normalisation form', async () => {
    const composed = 'caf\u00e9-pässwörd';
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const encoded = await hashPassword(composed);
    expect(await verifyPassword(decomposed, encoded)).toBe(true);
  });

  it('returns false, never throws, for malformed encodings', async () => {
    const good = await hashPassword('pw-123456');
    const [, n, r, p, salt, hash] = good.split('$') as [string, string, string, string, string, string];
    const malformed: unknown[] = [
      '',
      'plaintext',
      'scrypt',
      good.replace(/^scrypt/, 'bcrypt'),
      `scrypt$${n}$${r}$${p}$${salt}`,
      `${good}$extra`,
      `scrypt$abc$${r}$${p}$${salt}$${hash}`,
      `scrypt$-1$${r}$${p}$${salt}$${hash}`,
      `scrypt$0$${r}$${p}$${salt}$${hash}`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`, // not a power of two
      `scrypt$${2 ** 30}$${r}$${p}$${salt}$${hash}`, // absurd memory
      `scrypt$${n}$0$${p}$${salt}$${hash}`,
      `scrypt$${n}$${r}$999$${salt}$${hash}`,
      `scrypt$${n}$${r}$${p}$$${hash}`,
      `scrypt$${n}$${r}$${p}$${salt}$`,
      `scrypt$${n}$${r}$${p}$not base64!$${hash}`,
      `scrypt$${n}$${r}$${p}$${salt}$%%%`,
      `scrypt$${n}$${r}$${p}$${salt}$${Buffer.alloc(4).toString('base64')}`, // too short
      `scrypt$1e3$${r}$${p}$${salt}$${hash}`,
      undefined,
      null,
      42,
    ];
    for (const m of malformed) {
      // Corrupt rows and untyped callers can hand over anything.
      await expect(verifyPassword('pw-123456', m as string), String(m)).resolves.toBe(false);
    }
    expect(await verifyPassword(undefined as unknown as string, good)).toBe(false);
  });

  it('still verifies hashes made with other valid parameters', async () => {
    // A hash with lower cost (as a future migration of parameters would leave behind).
    const { scrypt } = await import('node:crypto');
    const salt = Buffer.alloc(16, 7);
    const key = await new Promise<Buffer>((res, rej) =>
      scrypt('older', salt, 32, { N: 1024, r: 8, p: 1 }, (e, k) => (e ? rej(e) : res(k))),
    );
    const encoded = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('older', encoded)).toBe(true);
    expect(await verifyPassword('newer', encoded)).toBe(false);
  });
});
