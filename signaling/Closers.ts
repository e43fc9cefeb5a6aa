import type { Logger } from '../common/logger.ts';

/**
 * One stack of what a process has opened, closed in reverse order: start-up pushes a closer
 * after each thing it opens, so a failure half-way through closes exactly what was opened,
 * and shutdown closes everything through the same stack. `closeAll()` is idempotent; a closer
 * that throws is logged and the rest still run.
 */
export class Closers {
  readonly #stack: Array<{ name: string; close: () => unknown }> = [];
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** Registers how to close what was just opened. */
  push(name: string, close: () => unknown): void {
    if (this.#closing) throw new Error(`cannot open ${name}: already closing`);
    this.#stack.push({ name, close });
  }

  closeAll(): Promise<void> {
    return (this.#closing ??= (async () => {
      for (const { name, close } of this.#stack.splice(0).reverse()) {
        try {
          await close();
        } catch (err) {
          this.#log.error({ err, closing: name }, 'could not close cleanly');
        }
      }
    })());
  }
}
