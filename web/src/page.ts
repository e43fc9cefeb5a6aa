import type { Api } from './api.ts';
import type { Session } from './session.ts';
import type { SignalHub } from './signalHub.ts';
import type { Alerts } from './ui/Alerts.ts';

/** What every page gets from the app shell. */
export interface PageContext {
  readonly api: Api;
  readonly session: Session;
  readonly alerts: Alerts;
  /** The app's one socket.io connection to this origin, kept across pages. */
  readonly signals: SignalHub;
  /** Resolves once the tab knows whether someone is signed in. */
  readonly sessionReady: Promise<void>;
  /** Client-side navigation (pushState, or replaceState with `replace`). */
  navigate(path: string, options?: { replace?: boolean }): void;
  /**
   * Gets a page ready before anyone navigates to it: loads its code and opens what its first
   * step waits for (the watch page: the shared connection). Idempotent, never throws.
   */
  prepare(page: 'watch'): void;
  /** Sets the document title ("<title> · Spyglass"). */
  setTitle(title: string): void;
}

/** Undoes everything a page did: listeners, timers, sockets, media. Called once. */
export type Cleanup = () => void;

/** A page renders into `root` and returns its cleanup. */
export type PageMount = (root: HTMLElement, ctx: PageContext) => Cleanup;
