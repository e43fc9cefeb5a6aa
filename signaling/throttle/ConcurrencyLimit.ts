import { AppError } from '../../common/errors.ts';

/** Refused because every slot is taken and the wait queue is full. */
export class BusyError extends AppError {
  /** Sent as Retry-After: the queue drains within about a second. */
  readonly retryAfterSeconds = 1;
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

export interface ConcurrencyLimitOptions {
  /** Tasks running at once. */
  concurrency: number;
  /** Tasks waiting for a slot; one more is refused with BusyError. */
  maxQueue: number;
  /** The message of the BusyError. */
  busyMessage: string;
}

/**
 * At most `concurrency` tasks at once, a bounded FIFO of waiting ones, and an immediate
 * refusal beyond it, so a flood is turned away instead of queueing without bound.
 */
export class ConcurrencyLimit {
  readonly #o: ConcurrencyLimitOptions;
  readonly #waiting: Array<() => void> = [];
  #running = 0;

  constructor(options: ConcurrencyLimitOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) throw new RangeError('maxQueue must be a non-negative integer');
    this.#o = options;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `task` when a slot is free; throws BusyError at once when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#o.concurrency) {
      if (this.#waiting.length >= this.#o.maxQueue) throw new BusyError(this.#o.busyMessage);
      // The slot is handed over by the finishing task (see finally), so #running stays counted.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
