/** The browser-safe wire contract: ids, media schemas, events, errors. */
export * from './ids.ts';
export * from './media.ts';
export * from './events.ts';
export * from './errors.ts';
export * from './archives.ts';
export * from './replays.ts';
export * from './profiles.ts';
export { ID_PATTERNS, USERNAME_RULES, PASSWORD_RULES } from './rules.ts';
