import { describe, expect, it } from 'vitest';
import { recorderArgs } from '../../../workers/media/recorderArgs.ts';

/** The value after `flag` (asserting the flag appears exactly once). */
function valueOf(args: string[], flag: string): string | undefined {
  expect(args.filter((a) => a === flag)).toHaveLength(1);
  return args[args.indexOf(flag) + 1];
}

describe('recorderArgs', () => {
  const args = recorderArgs({ localAddress: '10.0.0.9', outDir: '/data/rec/b1/r1', segmentSeconds: 10 });

  it('reads the SDP from stdin (never a file), binds one address only, waits long for packets', () => {
    expect(valueOf(args, '-protocol_whitelist')).toBe('pipe,udp,rtp');
    expect(valueOf(args, '-i')).toBe('pipe:0');
    expect(args[args.indexOf('-i') - 2]).toBe('-f');
    expect(args[args.indexOf('-i') - 1]).toBe('sdp');
    expect(valueOf(args, '-localaddr')).toBe('10.0.0.9');
    expect(Number(valueOf(args, '-listen_timeout'))).toBeGreaterThanOrEqual(30);
    expect(valueOf(args, '-fpsprobesize')).toBe('0');
    // Input options come before -i.
    for (const flag of ['-protocol_whitelist', '-localaddr', '-listen_timeout', '-analyzeduration', '-probesize', '-fpsprobesize', '-buffer_size']) {
      expect(args.indexOf(flag)).toBeLessThan(args.indexOf('-i'));
    }
    expect(args).toContain('-nostdin');
  });

  it('copies every stream into Matroska segments listed in segments.csv', () => {
    expect(valueOf(args, '-map')).toBe('0');
    expect(valueOf(args, '-c')).toBe('copy');
    expect(args[args.indexOf('-segment_time') - 1]).toBe('segment');
    expect(args[args.indexOf('-segment_time') - 2]).toBe('-f');
    expect(valueOf(args, '-segment_time')).toBe('10');
    expect(valueOf(args, '-segment_format')).toBe('matroska');
    expect(valueOf(args, '-segment_format_options')).toBe('flush_packets=1');
    expect(valueOf(args, '-reset_timestamps')).toBe('0');
    expect(valueOf(args, '-segment_list')).toBe('/data/rec/b1/r1/segments.csv');
    expect(valueOf(args, '-segment_list_type')).toBe('csv');
    expect(args[args.length - 1]).toBe('/data/rec/b1/r1/seg-%05d.mkv');
    for (const flag of ['-map', '-c', '-segment_time']) expect(args.indexOf(flag)).toBeGreaterThan(args.indexOf('-i'));
  });

  it('with aac, adds a second output: the first audio stream encoded to AAC segments of its own, listed in aac.csv', () => {
    const withAac = recorderArgs({ localAddress: '10.0.0.9', outDir: '/data/rec/b1/r1', segmentSeconds: 10, aac: true });
    // The first output is exactly the one without aac: every stream copied into seg-%05d.mkv.
    const first = withAac.indexOf('/data/rec/b1/r1/seg-%05d.mkv');
    expect(withAac.slice(0, first + 1)).toEqual(args);
    const second = withAac.slice(first + 1);
    expect(second.slice(0, 2)).toEqual(['-map', '0:a:0']);
    expect(second[second.indexOf('-c:a') + 1]).toBe('aac');
    expect(second[second.indexOf('-af') + 1]).toBe('aresample=async=1');
    expect(second[second.indexOf('-segment_format') + 1]).toBe('matroska');
    expect(second[second.indexOf('-reset_timestamps') + 1]).toBe('0');
    expect(second[second.indexOf('-segment_list') + 1]).toBe('/data/rec/b1/r1/aac.csv');
    expect(second.at(-1)).toBe('/data/rec/b1/r1/aac-%05d.mka');
    expect(second).not.toContain('copy');
  });

  it('takes a custom no-packet timeout', () => {
    const custom = recorderArgs({ localAddress: '127.0.0.1', outDir: 'o', segmentSeconds: 2.5, noPacketTimeoutSeconds: 60 });
    expect(valueOf(custom, '-listen_timeout')).toBe('60');
    expect(valueOf(custom, '-segment_time')).toBe('2.5');
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects segmentSeconds %s', (segmentSeconds) => {
    expect(() => recorderArgs({ localAddress: '127.0.0.1', outDir: 'o', segmentSeconds })).toThrow(/segmentSeconds/);
  });

  it('rejects a local address that is not an IP address', () => {
    expect(() => recorderArgs({ localAddress: 'recorder.local', outDir: 'o', segmentSeconds: 2 })).toThrow(/localAddress/);
    expect(() => recorderArgs({ localAddress: '', outDir: 'o', segmentSeconds: 2 })).toThrow(/localAddress/);
  });

  it('rejects a no-packet timeout that is not a positive whole number of seconds', () => {
    expect(() => recorderArgs({ localAddress: '127.0.0.1', outDir: 'o', segmentSeconds: 2, noPacketTimeoutSeconds: 0 })).toThrow(/noPacketTimeout/);
    expect(() => recorderArgs({ localAddress: '127.0.0.1', outDir: 'o', segmentSeconds: 2, noPacketTimeoutSeconds: 1.5 })).toThrow(/noPacketTimeout/);
  });
});
