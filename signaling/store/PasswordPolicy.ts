import { ZxcvbnFactory, type ZxcvbnResult } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../../common/errors.ts';

/**
 * The lowest zxcvbn score accepted. 2 means "somewhat guessable": about 10^6–10^8 guesses,
 * enough against online guessing, which is throttled (a handful of tries per account before a
 * block), and, with scrypt at tens of ms per guess, days of CPU per account offline. 3 would
 * also refuse many ordinary passphrases without adding much behind those two defences.
 */
export const MIN_PASSWORD_SCORE = 2;

/**
 * Only the first this many characters are estimated: zxcvbn's matching grows fast with length
 * (a 256-character password took over a second of event-loop time), and a password whose first
 * 64 characters are weak is weak. (zxcvbn's own maxLength option would call longer passwords
 * strong without looking, so the password is cut here instead.)
 */
const MAX_ESTIMATED_LENGTH = 64;

// @zxcvbn-ts/language-en carries these texts; we only need the English ones, so they are here
// rather than in another (large) dependency.
const WARNINGS: Record<string, string> = {
  straightRow: 'straight rows of keys on your keyboard are easy to guess',
  keyPattern: 'short keyboard patterns are easy to guess',
  simpleRepeat: 'repeated characters like "aaa" are easy to guess',
  extendedRepeat: 'repeated patterns like "abcabcabc" are easy to guess',
  sequences: 'common character sequences like "abc" are easy to guess',
  recentYears: 'recent years are easy to guess',
  dates: 'dates are easy to guess',
  topTen: 'this is one of the ten most used passwords',
  topHundred: 'this is one of the hundred most used passwords',
  common: 'this is a commonly used password',
  similarToCommon: 'this is similar to a commonly used password',
  wordByItself: 'single words are easy to guess',
  namesByThemselves: 'single names or surnames are easy to guess',
  commonNames: 'common names and surnames are easy to guess',
  userInputs: 'it contains your username',
  pwned: 'this password appeared in a data breach',
};
const SUGGESTIONS: Record<string, string> = {
  l33t: 'avoid predictable letter substitutions like "@" for "a"',
  reverseWords: 'avoid reversed spellings of common words',
  allUppercase: 'capitalise some, but not all, letters',
  capitalization: 'capitalise more than the first letter',
  dates: 'avoid dates and years that are associated with you',
  recentYears: 'avoid recent years',
  associatedYears: 'avoid years that are associated with you',
  sequences: 'avoid common character sequences',
  repeated: 'avoid repeated words and characters',
  longerKeyboardPattern: 'use longer keyboard patterns and change typing direction several times',
  anotherWord: 'add more words that are less common',
  useWords: 'use several words, but avoid common phrases',
  noNeed: 'you can create strong passwords without symbols, numbers or uppercase letters',
  pwned: 'change this password wherever you use it',
};

/**
 * Refuses common and trivial passwords (a strength estimate with zxcvbn-ts and its common
 * dictionaries) and passwords that are mostly the username. Server-side only: the
 * dictionaries are large, so build one instance per process and share it.
 */
export class PasswordPolicy {
  readonly #zxcvbn: ZxcvbnFactory;

  constructor() {
    this.#zxcvbn = new ZxcvbnFactory({ dictionary: { ...dictionary }, graphs: adjacencyGraphs });
  }

  /** Why `password` is refused for `username`, or undefined when it is acceptable. */
  problem(password: string, username: string): string | undefined {
    const p = password.toLowerCase();
    const u = username.toLowerCase();
    if (p.trim() === '') return 'password must not be only spaces';
    // "alice", "Alice2024!", "alicealice": the username is at least half of the password.
    if (u.length > 0 && p.includes(u) && u.length * 2 >= p.length) return 'password is too weak: it is mostly your username; use several less common words';
    const result: ZxcvbnResult = this.#zxcvbn.check(password.slice(0, MAX_ESTIMATED_LENGTH), [username]);
    if (result.score >= MIN_PASSWORD_SCORE) return undefined;
    const warning = result.feedback.warning ? WARNINGS[result.feedback.warning] : undefined;
    const suggestions = result.feedback.suggestions.map((s) => SUGGESTIONS[s]).filter((s): s is string => s !== undefined);
    const why = warning ?? 'it is easy to guess';
    const hint = suggestions.length > 0 ? suggestions.join('; ') : 'add more words that are less common';
    return `password is too weak: ${why}; ${hint}`;
  }

  /** Throws AppError(VALIDATION_FAILED) with the reason when `password` is refused. */
  assertAcceptable(password: string, username: string): void {
    const problem = this.problem(password, username);
    if (problem) throw new AppError('VALIDATION_FAILED', problem);
  }
}
