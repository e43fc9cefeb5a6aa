import { isIP } from 'node:net';
import path from 'node:path';
import { AAC_OUTPUT } from './mp4Video.ts';
import { AAC_SEGMENT_LIST } from './runIndex.ts';

/**
 * ffmpeg argv (for spawnRecorder) that receives the SRTP described by the SDP it reads on
 * stdin (`pipe:0`, so the keys it holds are never on disk or in the argv, which every local
 * user can read in /proc) on `localAddress` only, and copies it, untouched, into Matroska segments `<outDir>/seg-00000.mkv`, `seg-00001.mkv`, ... cut
 * at the first keyframe after every `segmentSeconds`, listed in `<outDir>/segments.csv`.
 * Each choice was checked against ffmpeg 5.1 (docs/recording.md, "Media pipeline"):
 *
 * - `-listen_timeout`: ffmpeg's RTP input ends after this many seconds without a packet
 *   (default 10). Long (30 s), so that pauses in the media do not end the run; the job
 *   stops ffmpeg itself. It also bounds how long an orphaned ffmpeg lingers.
 * - `-fpsprobesize 0`: do not wait for 20 frames to guess a frame rate (copying does not
 *   need one): the first segment is opened ~0.1 s after the first keyframe instead of ~0.8 s.
 * - `-analyzeduration 5 s` only bounds the wait for the first video keyframe (without one
 *   ffmpeg fails with "dimensions not set"); probing stops as soon as every stream is known.
 * - `-buffer_size 1 MiB`: the UDP receive buffer (the kernel doubles it, capped by
 *   net.core.rmem_max), room for a keyframe burst while ffmpeg is busy writing.
 * - `-reset_timestamps 0`: segments keep the run's clock, so a pause in the media that
 *   falls on a segment boundary stays a pause in the replay (with 1, every segment would
 *   start at 0 and the pause would vanish, shifting chat against the video).
 * - `flush_packets=1` for the segment's Matroska muxer: every finished cluster (one per
 *   keyframe, ~2 s) reaches the disk at once instead of in 256 KiB chunks, so a killed
 *   ffmpeg loses at most the cluster in progress.
 * - `-segment_time_delta 0.05`: a keyframe a few ms before the boundary still cuts.
 * - No `-fflags +genpts`: RTP gives every packet a timestamp; it changed nothing.
 * - `-segment_list … -segment_list_type csv`: ffmpeg appends `name,start,end` (s) when it
 *   closes a segment; SegmentUploader turns it into the run's index.json (runIndex.ts), so
 *   finalize places the segments without probing them. It lists the first segment as starting
 *   at 0 whatever its first timestamp.
 * - `-localaddr`: the SDP demuxer binds its RTP and RTCP sockets to this address instead
 *   of every address (`*`). `-protocol_whitelist pipe,udp,rtp`: no file is ever opened as
 *   input.
 *
 * With `aac` (an H.264 run with audio), a **second output** encodes the audio to AAC as it
 * arrives (the MP4's audio, AAC_OUTPUT: ~1 % of a core) into segments of its own,
 * `aac-00000.mka`, ... listed in `aac.csv`, on the same run clock; finalize then copies it into
 * the MP4 instead of encoding the whole audio after the broadcast (docs/recording.md, "The MP4:
 * remux or transcode"). A separate output, not a third stream in the segments: a muxer writes
 * its header only once every stream's encoder has had a frame, so in one output the video
 * would wait in memory (none on disk) until the first audio arrives — for ever, if it never
 * does. As its own output the video segments are written exactly as without it.
 * `aresample=async=1` fills gaps in the audio with silence, as finalize's encode does.
 */
export function recorderArgs(opts: {
  /** The one local address ffmpeg binds its sockets to (`recording.rtpHost`). */
  localAddress: string;
  outDir: string;
  segmentSeconds: number;
  /** Seconds without any packet after which ffmpeg ends on its own; default 30. */
  noPacketTimeoutSeconds?: number;
  /** Also encode the (first) audio stream to AAC segments `aac-%05d.mka` (H.264 runs with audio). */
  aac?: boolean;
}): string[] {
  const { segmentSeconds } = opts;
  const noPacketTimeout = opts.noPacketTimeoutSeconds ?? 30;
  if (!Number.isFinite(segmentSeconds) || segmentSeconds <= 0) throw new Error(`segmentSeconds must be > 0, got ${segmentSeconds}`);
  if (isIP(opts.localAddress) === 0) throw new Error(`localAddress must be an IP address, got ${JSON.stringify(opts.localAddress)}`);
  if (!Number.isInteger(noPacketTimeout) || noPacketTimeout < 1) throw new Error(`noPacketTimeoutSeconds must be a positive integer`);
  const segmentOptions = (list: string) => [
    '-f', 'segment',
    '-segment_time', String(segmentSeconds),
    '-segment_time_delta', '0.05',
    '-segment_format', 'matroska',
    '-segment_format_options', 'flush_packets=1',
    '-reset_timestamps', '0',
    '-segment_list', path.join(opts.outDir, list),
    '-segment_list_type', 'csv',
  ];
  const aac = opts.aac
    ? ['-map', '0:a:0', ...AAC_OUTPUT, '-af', 'aresample=async=1', ...segmentOptions(AAC_SEGMENT_LIST), path.join(opts.outDir, 'aac-%05d.mka')]
    : [];
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-protocol_whitelist', 'pipe,udp,rtp',
    '-listen_timeout', String(noPacketTimeout),
    '-localaddr', opts.localAddress,
    '-analyzeduration', '5000000',
    '-probesize', '5000000',
    '-fpsprobesize', '0',
    '-buffer_size', '1048576',
    '-f', 'sdp',
    '-i', 'pipe:0',
    '-map', '0',
    '-c', 'copy',
    ...segmentOptions('segments.csv'),
    path.join(opts.outDir, 'seg-%05d.mkv'),
    ...aac,
  ];
}
