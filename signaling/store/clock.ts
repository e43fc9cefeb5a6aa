/** Returns the current time in epoch milliseconds. Injected so tests control time. */
export type Clock = () => number;

/** The wall clock. */
export const systemClock: Clock = () => Date.now();

/** Options every store accepts besides its database. */
export interface StoreOptions {
  /** Time source. Default: the wall clock. */
  clock?: Clock;
}

/** Epoch milliseconds to the ISO-8601 UTC string the API returns. */
export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
