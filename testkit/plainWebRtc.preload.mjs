/**
 * `NODE_OPTIONS="--import tsx --import <this file>"`: installs the plain-RTP stand-in for
 * WebRTC transports (plainWebRtc.ts) in the signalling process's main thread only (the
 * supervisor and the workers process inherit the same NODE_OPTIONS and are left alone).
 *
 * Plain JavaScript on purpose: NODE_OPTIONS reaches worker threads too (the archive writer's
 * hash worker), where tsx's loader hooks may not be registered yet when this file is
 * imported; a `.ts` preload then fails there with ERR_UNKNOWN_FILE_EXTENSION and takes the
 * process down. This file needs no loader, and it does nothing off the main thread.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread && /signaling[\\/]main\.ts$/.test(process.argv[1] ?? '')) {
  const { installPlainWebRtc } = await import('./plainWebRtc.ts');
  installPlainWebRtc();
}
