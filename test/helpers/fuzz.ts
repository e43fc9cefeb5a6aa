import fc from 'fast-check';
import { z } from 'zod';
import { ERROR_CODES } from '../../common/protocol/errors.ts';
import { JoinRedirectSchema } from '../../common/protocol/events.ts';
import { LIMITS } from '../../common/protocol/rules.ts';

/**
 * Shared pieces of the hostile-input fuzz suites (test/security/*Fuzz.test.ts): the run size
 * and seed (from FUZZ_RUNS / FUZZ_SEED / FUZZ_PATH, so a failure printed by fast-check can be
 * replayed), hostile values, and mutations of valid payloads.
 */

/** fast-check's failure report with long runs of one character (the huge strings) shortened. */
function reportFailure<Ts>(details: fc.RunDetails<Ts>): void {
  if (!details.failed) return;
  const message = fc.defaultReportMessage(details) ?? 'property failed';
  const short = message.replace(/(\\u[0-9a-fA-F]{4}|.)\1{49,}/gsu, (run: string, c: string) => `${c.repeat(4)}…(${run.length / c.length}×)`);
  throw new Error(`${short}\nReplay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''}`, { cause: details.errorInstance });
}

type FuzzParameters<Ts> = { numRuns: number; seed: number; path?: string; endOnFailure: boolean; asyncReporter: (d: fc.RunDetails<Ts>) => Promise<void> };

/** fast-check parameters of a fuzz suite; `defaultRuns` fits CI, FUZZ_RUNS overrides it. */
export function fuzzParameters<Ts = unknown>(defaultRuns: number): FuzzParameters<Ts> {
  const runs = Number(process.env.FUZZ_RUNS ?? defaultRuns);
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS must be a positive integer, not ${process.env.FUZZ_RUNS}`);
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not ${process.env.FUZZ_SEED}`);
  return {
    numRuns: runs,
    seed,
    ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
    // The server's state moves on with every run: shrinking against it is slow and rarely smaller.
    endOnFailure: true,
    asyncReporter: async (d: fc.RunDetails<Ts>) => reportFailure(d),
  };
}

/** An error as the wire carries it: a catalogued code (never INTERNAL), a message, and with REDIRECT its target. */
export const WireErrorSchema = z
  .strictObject({
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]]).refine((c) => c !== 'INTERNAL', 'INTERNAL'),
    message: z.string().min(1),
    redirect: JoinRedirectSchema.optional(),
  })
  .refine((e) => (e.code === 'REDIRECT') === (e.redirect !== undefined), 'redirect goes with REDIRECT, and only with it');

/** Every socket.io ack: `{ ok: true, data } | { ok: false, error: { code, message } }`. */
export const AckSchema = z.union([
  z.strictObject({ ok: z.literal(true), data: z.unknown().refine((d) => d !== undefined, 'data is missing') }),
  z.strictObject({ ok: z.literal(false), error: WireErrorSchema }),
]);

/** Sets an own property, even one named `__proto__` (plain assignment would set the prototype). */
export function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `{ a: { a: … value } }`, `depth` levels deep (or arrays, alternating). */
export function nested(depth: number, value: unknown = 'bottom'): unknown {
  let v = value;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  // fast-check's report would recurse as deep as the value: print it short.
  Object.defineProperty(v, fc.toStringMethod, { value: () => `nested(${depth}, ${fc.stringify(value).slice(0, 40)})`, enumerable: false });
  return v;
}

/** Strings that are numbers, keywords, paths or injections in other languages. */
export const trickyString = fc.constantFrom(
  'NaN', 'Infinity', '-Infinity', '-0', '1e309', '0x10', '9007199254740993', 'null', 'undefined', 'true', '[]', '{}',
  '', ' ', '\u0000', 'a\u0000b', '%00', '%', '%E0%A4%A', '../../etc/passwd', '..\\..\\windows', '/etc/passwd',
  '<script>alert(1)</script>', "' OR 1=1 --", '"; DROP TABLE users; --', '${jndi:ldap://x}', '{{7*7}}',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '\uD800', '\uDFFF', '\u202Eevil', '\uFEFF', '\u200B', 'Ω≈ç√∫', '😀'.repeat(40), 'e\u0301', '\r\n\r\nX-Injected: 1',
  'b_AAAAAAAA', 'b_' + 'A'.repeat(40), 'b_' + 'A'.repeat(41), 'u_AAAAAAAA', '00000000-0000-4000-8000-000000000000',
);

/** Unicode of every kind: lone surrogates, control characters, combining marks, emoji. */
export const unicodeString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 48 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\uD800', '\uDFFF', '\u202E', '\uFEFF', 'é', '😀', ' ', 'a'), maxLength: 48 }),
);

/** Strings around and far above the limits (chat, message size); never above the transport's 1 MB cap. */
export const hugeString = fc
  .constantFrom(LIMITS.titleMax + 1, LIMITS.chatMax + 1, 4096, LIMITS.maxMessageBytes - 64, LIMITS.maxMessageBytes + 1, 200_000)
  .chain((n) =>
    // JSON writes U+0000 as six bytes: cap it so that even two copies in one message stay under the 1 MB transport cap.
    fc.constantFrom('x', 'é', '😀', '\u0000').map((c) => c.repeat(Math.min(Math.ceil(n / c.length), c === '\u0000' ? 70_000 : Infinity))),
  );

/** Objects whose own keys are prototype names. */
export const prototypeObject = fc.constantFrom(
  () => JSON.parse('{"__proto__":{"admin":true,"polluted":"yes"}}') as unknown,
  () => JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}') as unknown,
  () => JSON.parse('{"__proto__":null,"toString":"x","valueOf":1,"hasOwnProperty":[]}') as unknown,
).map((make) => make());

/** Any hostile value: arbitrary JSON, tricky and huge strings, deep nesting, prototype keys, binary. */
export function hostileValue(options: { binary?: boolean; maxDepth?: number } = {}): fc.Arbitrary<unknown> {
  const parts: fc.Arbitrary<unknown>[] = [
    fc.jsonValue({ maxDepth: 3 }),
    trickyString,
    unicodeString,
    hugeString,
    fc.integer({ min: 2, max: options.maxDepth ?? 2000 }).map((d) => nested(d)),
    prototypeObject,
    fc.constantFrom(null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, -0, 1e308, [], {}),
    fc.double(),
  ];
  if (options.binary) parts.push(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)));
  return fc.oneof(...parts);
}

/** Keys an attacker adds to an object. */
export const extraKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'admin', 'role', 'ownerId', 'toString', ''), fc.string({ maxLength: 12 }));

/** Paths to every value inside a plain object or array (the root is `[]`). */
export function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (isPlainObject(value)) for (const k of Object.keys(value)) pathsOf(value[k], [...prefix, k], out);
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
}

/** A deep copy of plain objects and arrays (own `__proto__` keys kept); other values as they are. */
export function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) defineOwn(out, k, copy(value[k]));
    return out;
  }
  return value;
}

/** What to do to one spot of a valid payload. */
export type Mutation =
  | { op: 'set'; at: number; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: unknown }
  | { op: 'wrap'; at: number; depth: number };

export function mutation(options: { binary?: boolean } = {}): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  const value = hostileValue({ ...options, maxDepth: 500 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), at, value }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), at, key: extraKey, value }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), at, depth: fc.integer({ min: 1, max: 3 }) }) },
  );
}

/** Applies mutations to a copy of a valid payload (a near-valid payload). */
export function mutate(valid: unknown, mutations: Mutation[]): unknown {
  let root = copy(valid);
  for (const m of mutations) {
    const paths = pathsOf(root);
    const path = paths[m.at % paths.length]!;
    const parentPath = path.slice(0, -1);
    const key = path[path.length - 1];
    const parent = parentPath.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
    const current = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
    const replace = (next: unknown) => {
      if (key === undefined) root = next;
      else if (Array.isArray(parent)) parent[key as number] = next;
      else defineOwn(parent as Record<string, unknown>, String(key), next);
    };
    if (m.op === 'set') replace(m.value);
    else if (m.op === 'wrap') replace(nested(m.depth, current));
    else if (m.op === 'delete') {
      if (key === undefined) root = undefined;
      else if (Array.isArray(parent)) parent.splice(key as number, 1);
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the fuzzer deletes whichever key it picked
      else delete (parent as Record<string, unknown>)[String(key)];
    } else if (isPlainObject(current)) defineOwn(current, m.key, m.value);
    else if (Array.isArray(current)) current.push(m.value);
    else replace({ [m.key || 'k']: current });
  }
  return root;
}
