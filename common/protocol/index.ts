/** The browser-safe wire contract: ids, media schemas, events, errors. */
export * from './ids.ts';
export * from './media.ts';
export * from './events.ts';
export * from './errors.ts';
