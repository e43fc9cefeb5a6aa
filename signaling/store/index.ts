import type { Kysely } from 'kysely';
import { ArchiveStore } from './ArchiveStore.ts';
import { BroadcastStore } from './BroadcastStore.ts';
import { ChatStore } from './ChatStore.ts';
import type { StoreOptions } from './clock.ts';
import { ReplayStore } from './ReplayStore.ts';
import type { DB } from './schema.ts';
import { SessionStore } from './SessionStore.ts';
import { UserStore } from './UserStore.ts';
import { SunsetStore } from './SunsetStore.ts';
import { AuditStore } from './AuditStore.ts';
import { ProfileStore } from './ProfileStore.ts';
import { FollowStore } from './FollowStore.ts';
import { NotificationStore } from './NotificationStore.ts';
import { ModerationStore } from './ModerationStore.ts';
import { ReportStore } from './ReportStore.ts';
import { SuspensionStore } from './SuspensionStore.ts';
import { StreamKeyStore } from './StreamKeyStore.ts';

export { openDatabase, type DatabaseHandle, type OpenDatabaseOptions } from './Database.ts';
export { migrateToLatest, migrations, type DialectName } from './migrations.ts';
export type { DB, Role, BroadcastStatus, BroadcastSource } from './schema.ts';
export { systemClock, type Clock, type StoreOptions } from './clock.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
export { UserStore, type UserRecord } from './UserStore.ts';
export { SessionStore } from './SessionStore.ts';
export { BroadcastStore, type BroadcastRecord, type ListLiveOptions } from './BroadcastStore.ts';
export { ChatStore, type HeartBatch } from './ChatStore.ts';
export { ArchiveStore, newArchiveId, type ArchiveRecord } from './ArchiveStore.ts';
export { SunsetStore, type SunsetRecord } from './SunsetStore.ts';
export { AuditStore, type AuditEntry } from './AuditStore.ts';
export { ProfileStore, type ProfileRecord, type ProfileUpdate } from './ProfileStore.ts';
export { FollowStore, type FollowEntry } from './FollowStore.ts';
export { NotificationStore, type NotificationRecord } from './NotificationStore.ts';
export { ModerationStore, SLOW_MODE_MAX_SECONDS, type BlockEntry, type ChatRemoval, type ModeratedMessage } from './ModerationStore.ts';
export { ReportStore, type ReportRecord, type NewReport } from './ReportStore.ts';
export { SuspensionStore } from './SuspensionStore.ts';
export { StreamKeyStore, hashStreamKeySecret, type StreamKeyAuthorisation } from './StreamKeyStore.ts';
export { ReplayStore, type ListReplaysOptions, type ReplayListItem, type ReplayRecord } from './ReplayStore.ts';

/** Every store of the signalling process, over one database. */
export interface Stores {
  users: UserStore;
  sessions: SessionStore;
  broadcasts: BroadcastStore;
  chat: ChatStore;
  replays: ReplayStore;
  sunset: SunsetStore;
  audit: AuditStore;
  archives: ArchiveStore;
  profiles: ProfileStore;
  follows: FollowStore;
  notifications: NotificationStore;
  moderation: ModerationStore;
  reports: ReportStore;
  suspensions: SuspensionStore;
  streamKeys: StreamKeyStore;
}

/**
 * Builds the stores over an open database (see `openDatabase`).
 * @param secret the process secret; keys the session token hashes.
 * @param options clock (default: wall clock), for tests.
 */
export function createStores(db: Kysely<DB>, secret: string, options: StoreOptions = {}): Stores {
  return {
    users: new UserStore(db, options),
    sessions: new SessionStore(db, secret, options),
    broadcasts: new BroadcastStore(db, options),
    chat: new ChatStore(db, options),
    replays: new ReplayStore(db, options),
    sunset: new SunsetStore(db, options),
    audit: new AuditStore(db, options),
    archives: new ArchiveStore(db, options),
    profiles: new ProfileStore(db, options),
    follows: new FollowStore(db, options),
    notifications: new NotificationStore(db, options),
    moderation: new ModerationStore(db, options),
    reports: new ReportStore(db, options),
    suspensions: new SuspensionStore(db, options),
    streamKeys: new StreamKeyStore(db, options),
  };
}
