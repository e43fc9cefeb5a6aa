import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { STREAM_KEY_LIMITS } from '../../../common/protocol/rules.ts';
import type { DatabaseHandle } from '../../../signaling/store/Database.ts';
import type { DialectName } from '../../../signaling/store/migrations.ts';
import { hashStreamKeySecret, type Stores } from '../../../signaling/store/index.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { storesOn } from '../../../testkit/storesOn.ts';

const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

/** StreamKeyStore and the broadcasts' source and key columns (migration 0012_stream_keys), on both dialects. */
describe.each(['sqlite', 'postgres'] as const)('stream keys on %s', (dialect: DialectName) => {
  let handle: DatabaseHandle;
  let stores: Stores;
  storesOn(dialect, (t) => ({ handle, stores } = t));

  const user = (prefix = 'user'): Promise<UserRecord> => stores.users.create(uniqueName(prefix), 'scrypt$fake');
  const newKey = (owner: UserRecord, name = 'OBS') => stores.streamKeys.create(owner.id, { name, title: `${name} show`, visibility: 'public' });

  it('creates a key whose secret is shown once and stored only as its SHA-256', async () => {
    const alice = await user('alice');
    const { key, secret } = await stores.streamKeys.create(alice.id, { name: 'Studio', title: 'Live from the studio', visibility: 'private' });
    expect(secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(key).toEqual({ id: expect.stringMatching(/^k_/), name: 'Studio', title: 'Live from the studio', visibility: 'private', createdAt: expect.any(String), lastUsedAt: null });
    const rows = await sql<{ secret_hash: string }>`select secret_hash from stream_keys where id = ${key.id}`.execute(handle.db);
    expect(rows.rows).toEqual([{ secret_hash: hashStreamKeySecret(secret) }]);
    expect(JSON.stringify(rows.rows)).not.toContain(secret.slice(3));
    expect(await stores.streamKeys.list(alice.id)).toEqual([key]);
  });

  it('authorises a secret by its hash; not a revoked, unknown or malformed one', async () => {
    const alice = await user('alice');
    const { key, secret } = await newKey(alice);
    expect(await stores.streamKeys.authorise(secret)).toEqual({ id: key.id, userId: alice.id, title: 'OBS show', visibility: 'public' });
    expect(await stores.streamKeys.authorise(`sk_${randomBytes(32).toString('base64url')}`)).toBeUndefined();
    expect(await stores.streamKeys.authorise(`${secret}x`)).toBeUndefined();
    expect(await stores.streamKeys.authorise(hashStreamKeySecret(secret))).toBeUndefined();
    expect(await stores.streamKeys.isActive(key.id)).toBe(true);
    expect(await stores.streamKeys.revoke(alice.id, key.id)).toBe(true);
    expect(await stores.streamKeys.revoke(alice.id, key.id)).toBe(false);
    expect(await stores.streamKeys.authorise(secret)).toBeUndefined();
    expect(await stores.streamKeys.isActive(key.id)).toBe(false);
    expect(await stores.streamKeys.list(alice.id)).toEqual([]);
  });

  it('changes and revokes only the owner’s keys; someone else’s reads as missing', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const { key } = await newKey(alice);
    expect(await stores.streamKeys.update(bob.id, key.id, { name: 'mine now' })).toBeUndefined();
    expect(await stores.streamKeys.revoke(bob.id, key.id)).toBe(false);
    expect(await stores.streamKeys.update(alice.id, key.id, { name: 'Laptop', visibility: 'private' })).toEqual({ ...key, name: 'Laptop', visibility: 'private' });
    expect(await stores.streamKeys.update(alice.id, key.id, { title: 'New title' })).toMatchObject({ name: 'Laptop', title: 'New title' });
    await stores.streamKeys.revoke(alice.id, key.id);
    expect(await stores.streamKeys.update(alice.id, key.id, { name: 'again' })).toBeUndefined();
    expect(await stores.streamKeys.update(alice.id, 'k_doesnotexist', { name: 'x' })).toBeUndefined();
  });

  it(`holds at most ${STREAM_KEY_LIMITS.perUser} unrevoked keys per user; revoking one makes room`, async () => {
    const alice = await user('alice');
    const keys = [];
    for (let i = 0; i < STREAM_KEY_LIMITS.perUser; i++) keys.push((await newKey(alice, `key ${i}`)).key);
    expect((await stores.streamKeys.list(alice.id)).map((k) => k.name)).toEqual(keys.map((k) => k.name));
    await expect(newKey(alice, 'one more')).rejects.toMatchObject({ code: 'WRONG_STATE' });
    // Another user's allowance is their own.
    await newKey(await user('bob'));
    await stores.streamKeys.revoke(alice.id, keys[0]!.id);
    await expect(newKey(alice, 'one more')).resolves.toMatchObject({ key: { name: 'one more' } });
  });

  it('notes its last use', async () => {
    const alice = await user('alice');
    const { key } = await newKey(alice);
    await stores.streamKeys.touch(key.id);
    const [listed] = await stores.streamKeys.list(alice.id);
    expect(listed?.lastUsedAt).toEqual(expect.any(String));
  });

  it('records a broadcast’s source and key; the go-live page’s is "browser" with none', async () => {
    const alice = await user('alice');
    const { key } = await newKey(alice);
    const fromKey = await stores.broadcasts.create({ ownerId: alice.id, title: 't', visibility: 'public', inviteeIds: [], source: 'rtmp', streamKeyId: key.id });
    expect(fromKey).toMatchObject({ source: 'rtmp', streamKeyId: key.id });
    expect(await stores.broadcasts.findLiveByOwner(alice.id)).toMatchObject({ id: fromKey.id, source: 'rtmp', streamKeyId: key.id });
    await stores.broadcasts.end(fromKey.id, 'stopped');
    const fromPage = await stores.broadcasts.create({ ownerId: alice.id, title: 't', visibility: 'public', inviteeIds: [] });
    expect(fromPage).toMatchObject({ source: 'browser', streamKeyId: null });
    await stores.broadcasts.end(fromPage.id, 'stopped');
  });

  it('goes with its owner’s account', async () => {
    const alice = await user('alice');
    const { secret } = await newKey(alice);
    expect(await stores.users.deleteAccount(alice.id)).toBe(true);
    expect(await stores.streamKeys.authorise(secret)).toBeUndefined();
    const left = await sql<{ n: number }>`select count(*) as n from stream_keys where user_id = ${alice.id}`.execute(handle.db);
    expect(Number(left.rows[0]?.n)).toBe(0);
    await expect(stores.streamKeys.create(alice.id, { name: 'x', title: 'x', visibility: 'public' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
