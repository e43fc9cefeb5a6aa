import type { ChildProcess } from 'node:child_process';

/**
 * A process running on one of the cluster's hosts, with what it printed (stdout and stderr,
 * interleaved) kept so that callers can wait for a line.
 */
export class HostProcess {
  readonly name: string;
  readonly host: string;
  readonly #child: ChildProcess;
  readonly #listeners = new Set<() => void>();
  readonly exited: Promise<number | null>;
  #out = '';

  constructor(name: string, host: string, child: ChildProcess, onOutput?: (text: string) => void) {
    this.name = name;
    this.host = host;
    this.#child = child;
    const onData = (d: Buffer) => {
      const text = d.toString();
      this.#out += text;
      onOutput?.(text);
      for (const l of this.#listeners) l();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  get pid(): number {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- a host process is handed over only once it was spawned
    return this.#child.pid!;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  output(): string {
    return this.#out;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.#child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. Idempotent. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Resolves with the first match of `re` in the output from `from` on; rejects on timeout or exit. */
  waitFor(re: RegExp, timeoutMs = 60_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.#out.slice(from).match(re);
        if (m) {
          done();
          resolve(m);
        }
        return m !== null;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${re} within ${timeoutMs} ms:\n${this.#out.slice(-3000)}`));
      }, timeoutMs);
      const listener = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      if (check()) return;
      this.#listeners.add(listener);
      void this.exited.then((code) => {
        if (this.#listeners.has(listener) && !check()) {
          done();
          reject(new Error(`${this.name} exited (${code}) before ${re}:\n${this.#out.slice(-3000)}`));
        }
      });
    });
  }
}
