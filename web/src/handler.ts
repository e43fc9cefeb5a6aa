/** The mediasoup-client handlers this client may force. */
export type ForcedHandler = 'Chrome111';

/**
 * Which mediasoup-client handler to force, or undefined for the library's own detection.
 *
 * Headless Chromium calls itself "HeadlessChrome", which mediasoup-client's detection
 * does not recognise; Chrome111 is the right handler for every Chromium of the last years.
 * When detection fails entirely we also try Chrome111 rather than refusing to play.
 */
export function chooseHandlerName(userAgent: string, detected: string | undefined): ForcedHandler | undefined {
  if (/HeadlessChrome/.test(userAgent)) return 'Chrome111';
  if (detected === undefined) return 'Chrome111';
  return undefined;
}
