import type { Api } from './api.ts';
import type { Session } from './session.ts';
import type { Alerts } from './ui/Alerts.ts';

/** What every page gets from the app shell. */
export interface PageContext {
  readonly api: Api;
  readonly session: Session;
  readonly alerts: Alerts;
  /** Resolves once the tab knows whether someone is signed in. */
  readonly sessionReady: Promise<void>;
  /** Client-side navigation (pushState, or replaceState with `replace`). */
  navigate(path: string, options?: { replace?: boolean }): void;
  /** Sets the document title ("<title> · Spyglass"). */
  setTitle(title: string): void;
}

/** Undoes everything a page did: listeners, timers, sockets, media. Called once. */
export type Cleanup = () => void;

/** A page renders into `root` and returns its cleanup. */
export type PageMount = (root: HTMLElement, ctx: PageContext) => Cleanup;
