import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { allowedIn, phaseAt, type SunsetAction, type SunsetPhase, type SunsetSchedule } from '../../common/protocol/sunset.ts';
import type { SunsetRecord, SunsetStore } from '../store/SunsetStore.ts';

export interface SunsetServiceOptions {
  store: SunsetStore;
  logger: Logger;
  /** Time source for phases (tests move it). Default: the wall clock. */
  clock?: () => number;
  /** How often the schedule is re-read from the database (changes by another process or the CLI). Default 5 s. */
  refreshMs?: number;
}

/** Why an action is refused, per phase. */
const REFUSAL: Record<SunsetPhase, string> = {
  none: '',
  announced: 'Spyglass is closing down: new sign-ups are closed',
  'read-only': 'Spyglass is closing down and is read-only: no new broadcasts, chat or hearts; replays still play',
  'export-only': 'Spyglass is closing down: only replays, downloads and archives are available',
  off: 'Spyglass has closed',
};

const WHAT: Record<SunsetAction, string> = {
  signup: 'signing up',
  broadcast: 'going live',
  chat: 'chat',
  heart: 'hearts',
  watch: 'watching live',
  replay: 'replays',
  archive: 'archives',
  download: 'downloads',
  profile: 'editing profiles, following and notifications',
};

/**
 * The sunset phase of this process. The schedule is read from the database (cached,
 * re-read every few seconds and at once after a change made here); the phase is computed
 * from it and the clock on every call, so it switches on time, survives restarts and is
 * the same in every process that shares the database (within `refreshMs` of a change).
 */
export class SunsetService {
  readonly #store: SunsetStore;
  readonly #log: Logger;
  readonly clock: () => number;
  readonly #refreshMs: number;
  #schedule: SunsetRecord | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastPhase: SunsetPhase = 'none';
  readonly #listeners = new Set<(phase: SunsetPhase, previous: SunsetPhase) => void>();

  constructor(options: SunsetServiceOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.clock = options.clock ?? (() => Date.now());
    this.#refreshMs = options.refreshMs ?? 5_000;
  }

  /** Reads the schedule and starts the periodic refresh. */
  async start(): Promise<void> {
    await this.refresh();
    this.#lastPhase = this.phase();
    if (this.#lastPhase !== 'none') this.#log.info({ phase: this.#lastPhase }, 'sunset phase');
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.#log.warn({ err }, 'sunset schedule refresh failed'));
    }, this.#refreshMs);
    this.#timer.unref();
  }

  /** Re-reads the schedule from the database now, and notifies listeners of a phase change. */
  async refresh(): Promise<void> {
    this.#schedule = await this.#store.current();
    this.#checkPhase();
  }

  /** The current schedule (cached), or null. */
  get schedule(): SunsetRecord | null {
    return this.#schedule ?? null;
  }

  /** The schedule as the public sees it: null until it is announced. */
  publicSchedule(now = this.clock()): SunsetSchedule | null {
    const s = this.#schedule;
    if (!s || phaseAt(s, now) === 'none') return null;
    return { announceAt: s.announceAt, readOnlyAt: s.readOnlyAt, exportOnlyAt: s.exportOnlyAt, offAt: s.offAt, message: s.message };
  }

  /** The phase at `now` (default: the clock). */
  phase(now = this.clock()): SunsetPhase {
    return phaseAt(this.#schedule, now);
  }

  /** Whether `action` is allowed now. */
  allows(action: SunsetAction): boolean {
    return allowedIn(this.phase(), action);
  }

  /** Throws AppError('SERVICE_SUNSET') with a readable reason when `action` is not allowed now. */
  assertAllowed(action: SunsetAction): void {
    const phase = this.phase();
    if (allowedIn(phase, action)) return;
    const message = this.#schedule?.message;
    throw new AppError('SERVICE_SUNSET', `${REFUSAL[phase]} (${WHAT[action]} is no longer available)${message ? `. ${message}` : ''}`);
  }

  /** Calls `listener` when the phase changes (checked at every refresh, so within `refreshMs`). */
  onPhaseChange(listener: (phase: SunsetPhase, previous: SunsetPhase) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #checkPhase(): void {
    const phase = this.phase();
    const previous = this.#lastPhase;
    if (phase === previous) return;
    this.#lastPhase = phase;
    this.#log.warn({ phase, previous }, 'sunset phase changed');
    for (const l of this.#listeners) {
      try {
        l(phase, previous);
      } catch (err) {
        this.#log.error({ err }, 'sunset phase listener failed');
      }
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }
}
