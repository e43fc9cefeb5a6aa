import type { types as ms } from 'mediasoup';

/**
 * What a viewer's consumers negotiate: the device's capabilities without send-side bandwidth
 * estimation (no `transport-cc` or `goog-remb` feedback, no transport-wide-cc or abs-send-time
 * header extension).
 *
 * Why: a consumer that negotiates either gives its transport mediasoup's
 * TransportCongestionControlClient (libwebrtc's goog_cc and pacer). Its process timer fires
 * every 5 ms per viewer whether media flows or not, and every packet sent goes through its
 * send history. Measured on the development VM (bench/workerBuild, docs/benchmarks.md
 * "Viewer-side levers"): 400 viewers of one 100 packet/s stream cost the worker 0.29 of a
 * core with it and 0.155 without — 46 % of the worker's time for an estimate that, in a
 * one-to-many broadcast, only chooses a simulcast layer. That choice is made instead from
 * what each viewer reports back (RTCP receiver reports → the consumer's score), by
 * {@link LayerGovernor}. NACK, PLI and FIR stay: they repair loss and start playback.
 */
const BWE_FEEDBACK = new Set(['transport-cc', 'goog-remb']);
const BWE_EXTENSION = /transport-wide-cc|abs-send-time/;

export function viewerRtpCapabilities(device: ms.RtpCapabilities): ms.RtpCapabilities {
  return {
    ...device,
    codecs: (device.codecs ?? []).map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => !BWE_FEEDBACK.has(f.type)) })),
    headerExtensions: (device.headerExtensions ?? []).filter((h) => !BWE_EXTENSION.test(h.uri)),
  };
}
