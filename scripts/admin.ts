/**
 * `npm run admin -- <command>`: admin tasks run against the service's database (the same
 * configuration as the server: DATA_DIR or DATABASE_URL, SPYGLASS_CONFIG, …). Every change
 * is recorded in the audit log with the actor 'cli'. See docs/sunset.md.
 *
 *   sunset schedule --announce <ISO> --read-only <ISO> --export-only <ISO> --off <ISO> [--message "…"]
 *   sunset show [--json]
 *   sunset cancel
 *   grant-admin <username>
 *   revoke-admin <username>
 *   nodes [--json]
 *   node drain <id>
 *   node undrain <id>
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { NodeRegistry, type LiveNode } from '../common/cluster/NodeRegistry.ts';
import { NodeIdSchema } from '../common/cluster/nodeIds.ts';
import { loadConfig } from '../common/config.ts';
import { dataDirSecret } from '../common/dataDirSecret.ts';
import { createLogger } from '../common/logger.ts';
import { describePhase, nextSwitchAt, normaliseSchedule, phaseAt, validateSchedule } from '../common/protocol/sunset.ts';
import { openDatabase, type DatabaseHandle } from '../signaling/store/Database.ts';
import { createStores, type Stores } from '../signaling/store/index.ts';

const USAGE = `Usage: npm run admin -- <command>

Commands:
  sunset schedule --announce <ISO> --read-only <ISO> --export-only <ISO> --off <ISO> [--message "…"]
      Schedule (or replace) the shutdown. Dates are ISO-8601 with a time zone
      (e.g. 2031-05-01T12:00:00Z), in the future and in this order.
  sunset show [--json]    Show the current schedule and phase.
  sunset cancel           Cancel the schedule (the service runs normally again).
  grant-admin <username>  Give an existing account the admin role (stored on the account, by id).
  revoke-admin <username> Take the admin role away from an account.
  nodes [--json]          List the live nodes of the deployment (Redis) with their load.
  node drain <id>         Stop new work on a node: new broadcasts and joins go to other nodes,
                          and its viewers move to other nodes (its broadcasts stay until they end).
  node undrain <id>       Let a drained node take new work again.

The database is the server's: DATA_DIR (SQLite) or DATABASE_URL (PostgreSQL); nodes live in
the server's Redis (REDIS_URL, SPYGLASS_QUEUE_PREFIX).`;

const ACTOR = 'cli';

const OPTION_OF: Record<string, string> = { announceAt: '--announce', readOnlyAt: '--read-only', exportOnlyAt: '--export-only', offAt: '--off' };

/** Bad input: printed with the usage, exit code 2. */
class UsageError extends Error {}
/** A refused operation (unknown user, invalid schedule): exit code 1. */
class CommandError extends Error {}

/** Splits `--name value` / `--name=value` flags from positional arguments. */
function parseArgs(args: string[], known: readonly string[], booleans: readonly string[] = []): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i < args.length
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!known.includes(name) && !booleans.includes(name)) throw new UsageError(`unknown option --${name}`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (booleans.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags.set(name, 'true');
    } else if (eq !== -1) {
      flags.set(name, arg.slice(eq + 1));
    } else {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
      i++;
    }
  }
  return { flags, rest };
}

function relative(ms: number, now: number): string {
  const d = ms - now;
  const abs = Math.abs(d);
  const text =
    abs >= 86_400_000 ? `${(abs / 86_400_000).toFixed(1)} days` : abs >= 3_600_000 ? `${(abs / 3_600_000).toFixed(1)} hours` : `${Math.round(abs / 60_000)} minutes`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

async function show(stores: Stores, json: boolean): Promise<void> {
  const now = Date.now();
  const s = await stores.sunset.current();
  const phase = phaseAt(s, now);
  // The sunset pre-generation (docs/sunset.md): users with an archive made since the announcement.
  const archives = s ? { users: await stores.users.count(), ...(await stores.archives.usersWithArchivesSince(Date.parse(s.announceAt))) } : null;
  if (json) {
    console.log(JSON.stringify({ phase, schedule: s ?? null, archives, now: new Date(now).toISOString() }, null, 2));
    return;
  }
  if (!s) {
    console.log('No sunset is scheduled. Phase: none (running normally).');
    return;
  }
  console.log(`Phase now: ${phase} (${describePhase(phase)})`);
  for (const [label, at] of [
    ['announced  ', s.announceAt],
    ['read-only  ', s.readOnlyAt],
    ['export-only', s.exportOnlyAt],
    ['off        ', s.offAt],
  ] as const) {
    console.log(`  ${label}  ${at}  (${relative(Date.parse(at), now)})`);
  }
  if (s.message) console.log(`Message: ${s.message}`);
  console.log(`Scheduled by ${s.createdBy} at ${s.createdAt}`);
  const next = nextSwitchAt(s, now);
  if (next) console.log(`Next switch: ${next.phase} at ${next.at}`);
  if (archives) console.log(`Archives made since the announcement: ${archives.ready} of ${archives.users} users ready, ${archives.building} being built`);
}

/** The deployment's node registry, for the `nodes` commands; closes its Redis connection after `use`. */
async function withRegistry<T>(use: (registry: NodeRegistry) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, {}, { secretWhenUnset: () => 'unused-by-the-nodes-commands' });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5000 });
  redis.on('error', () => undefined);
  try {
    return await use(new NodeRegistry({ redis, prefix: config.queuePrefix, logger: createLogger({ level: 'warn', name: 'admin' }) }));
  } finally {
    redis.disconnect();
  }
}

/** Each worker's CPU over the node's last heartbeat interval, in % of one core ("?" until measured). */
function workerCpu(n: LiveNode): string {
  return n.load.workers.map((w) => (w.cpu === undefined ? '?' : `${Math.round(w.cpu * 100)}%`)).join(' ') || '-';
}

async function nodes(argv: string[]): Promise<void> {
  const [command, sub, ...args] = argv;
  if (command === 'nodes') {
    const { flags, rest } = parseArgs([sub, ...args].filter((a) => a !== undefined), [], ['json']);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const list = await withRegistry((r) => r.list());
    if (flags.has('json')) {
      console.log(JSON.stringify(list, null, 2));
      return;
    }
    if (list.length === 0) {
      console.log('No live nodes (none beats in this Redis under this prefix).');
      return;
    }
    for (const n of list) {
      const state = n.draining ? 'draining' : 'serving';
      console.log(`${n.id}  ${state}  ${n.url}  media ${n.announcedAddress ?? '-'}  routers ${n.load.routers}  consumers ${n.load.consumers}  workers ${n.load.workers.length} (cpu ${workerCpu(n)})  since ${n.startedAt}`);
    }
    return;
  }
  if (sub !== 'drain' && sub !== 'undrain') throw new UsageError(`unknown command "node ${sub ?? ''}"`);
  const [id, extra] = args;
  if (!id || extra !== undefined) throw new UsageError(`node ${sub} takes one node id`);
  if (!NodeIdSchema.safeParse(id).success) throw new UsageError(`"${id.slice(0, 80)}" is not a node id`);
  if (sub === 'undrain') {
    if (!(await withRegistry((r) => r.undrain(id)))) throw new CommandError(`node "${id}" is not draining`);
    console.log(`${id} takes new work again.`);
    return;
  }
  if (!(await withRegistry((r) => r.drain(id)))) throw new CommandError(`no live node "${id}" (see npm run admin -- nodes)`);
  console.log(`${id} is draining: new broadcasts and joins go to other nodes, and its viewers are moving to them (its broadcasts stay until they end).`);
}

async function run(argv: string[], open: () => Promise<{ handle: DatabaseHandle; stores: Stores }>): Promise<void> {
  const [command, sub, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  if (command === 'nodes' || command === 'node') return nodes(argv);
  if (command === 'sunset') {
    if (sub === 'schedule') {
      const { flags, rest } = parseArgs(args, ['announce', 'read-only', 'export-only', 'off', 'message']);
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
      const input = {
        announceAt: flags.get('announce'),
        readOnlyAt: flags.get('read-only'),
        exportOnlyAt: flags.get('export-only'),
        offAt: flags.get('off'),
        message: flags.get('message') ?? '',
      };
      const now = Date.now();
      // The same rules as the admin API, worded with the CLI's option names.
      const errors = validateSchedule(input, now).map((e) =>
        e.replace(/\b(announceAt|readOnlyAt|exportOnlyAt|offAt)\b/g, (k) => OPTION_OF[k] ?? k),
      );
      if (errors.length > 0) throw new CommandError(`invalid schedule:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
      const schedule = normaliseSchedule(input, now);
      const { handle, stores } = await open();
      try {
        const record = await stores.sunset.schedule(schedule, ACTOR);
        await stores.audit.record(ACTOR, 'sunset.schedule', { scheduleId: record.id, ...schedule });
        console.log('Sunset scheduled.');
        await show(stores, false);
      } finally {
        await handle.close();
      }
      return;
    }
    if (sub === 'show') {
      const { flags, rest } = parseArgs(args, [], ['json']);
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
      const { handle, stores } = await open();
      try {
        await show(stores, flags.has('json'));
      } finally {
        await handle.close();
      }
      return;
    }
    if (sub === 'cancel') {
      if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"`);
      const { handle, stores } = await open();
      try {
        const cancelled = await stores.sunset.cancel(ACTOR);
        if (cancelled) {
          await stores.audit.record(ACTOR, 'sunset.cancel', { scheduleId: cancelled.id });
          console.log('Sunset cancelled: the service runs normally again (every server sees it within a few seconds).');
        } else {
          console.log('No sunset is scheduled; nothing to cancel.');
        }
      } finally {
        await handle.close();
      }
      return;
    }
    throw new UsageError(sub === undefined ? 'sunset needs a subcommand: schedule, show or cancel' : `unknown sunset subcommand "${sub}"`);
  }
  if (command === 'grant-admin' || command === 'revoke-admin') {
    const username = sub;
    if (username === undefined || username.startsWith('--')) throw new UsageError(`${command} needs a username`);
    if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"`);
    const grant = command === 'grant-admin';
    const { handle, stores } = await open();
    try {
      // Admin belongs to the account found now (its id), not to the name: a name cannot
      // become admin by being registered later.
      const user = await stores.users.findByUsername(username);
      if (!user) throw new CommandError(`no user named "${username}" (they must sign up first)`);
      if ((user.role === 'admin') === grant) {
        console.log(grant ? `${user.username} is already an admin.` : `${user.username} is not an admin.`);
        return;
      }
      if (!(await stores.users.setRole(user.id, grant ? 'admin' : 'user'))) throw new CommandError(`no user named "${username}"`);
      await stores.audit.record(ACTOR, grant ? 'user.grant-admin' : 'user.revoke-admin', { userId: user.id, username: user.username });
      console.log(grant ? `${user.username} is now an admin.` : `${user.username} is no longer an admin.`);
    } finally {
      await handle.close();
    }
    return;
  }
  throw new UsageError(`unknown command "${command}"`);
}

async function main(): Promise<number> {
  const open = async () => {
    const config = loadConfig(process.env, {}, { secretWhenUnset: dataDirSecret });
    const handle = await openDatabase({
      databaseUrl: config.databaseUrl,
      sqlitePath: path.join(config.dataDir, 'spyglass.db'),
      logger: createLogger({ level: 'warn', name: 'admin' }),
    });
    return { handle, stores: createStores(handle.db, config.secret) };
  };
  try {
    await run(process.argv.slice(2), open);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`admin: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`admin: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main();
