/**
 * `NODE_OPTIONS="--import tsx --import <this file>"`: installs the plain-RTP stand-in for
 * WebRTC transports (plainWebRtc.ts) in the signalling process only (the supervisor and the
 * workers process inherit the same NODE_OPTIONS and are left alone).
 */
if (/signaling[\\/]main\.ts$/.test(process.argv[1] ?? '')) {
  const { installPlainWebRtc } = await import('./plainWebRtc.ts');
  installPlainWebRtc();
}
