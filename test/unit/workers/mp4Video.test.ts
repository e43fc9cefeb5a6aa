import { describe, expect, it } from 'vitest';
import { mp4Video, remuxPartArgs } from '../../../workers/media/mp4Video.ts';

const run = (layout: string, video = true) => ({ layout, durationMs: 1000, hasAudio: layout.includes('opus'), video: video ? { width: 640, height: 360 } : null });

describe('mp4Video', () => {
  it('copies when every run is H.264 (with or without audio)', () => {
    expect(mp4Video([run('h264,opus'), run('h264')])).toBe('copy');
  });
  it('transcodes VP8, mixed codecs, runs without video and nothing', () => {
    expect(mp4Video([run('vp8,opus')])).toBe('transcode');
    expect(mp4Video([run('h264,opus'), run('vp8,opus')])).toBe('transcode');
    expect(mp4Video([run('h264,opus'), run('opus', false)])).toBe('transcode');
    expect(mp4Video([run('h264,h264,opus')])).toBe('transcode');
    expect(mp4Video([])).toBe('transcode');
  });
});

describe('remuxPartArgs', () => {
  it('copies the video, encodes the audio to AAC, and cuts at the run duration', () => {
    const args = remuxPartArgs(['-i', 'run.mkv'], { durationMs: 2500, hasAudio: true }, 'part.ts');
    expect(args.join(' ')).toBe(
      '-i run.mkv -map 0:v:0 -c:v copy -map 0:a:0 -af aresample=async=1:first_pts=0,apad -c:a aac -aac_coder fast -b:a 128k -ar 48000 -ac 2 -t 2.500 -f mpegts part.ts',
    );
  });
  it('adds silence to a run without audio', () => {
    const args = remuxPartArgs(['-i', 'run.mkv'], { durationMs: 1000, hasAudio: false }, 'part.ts');
    expect(args).toEqual(expect.arrayContaining(['anullsrc=r=48000:cl=stereo', '1:a:0', 'copy']));
    expect(() => remuxPartArgs(['-i', 'x'], { durationMs: 0, hasAudio: true }, 'p.ts')).toThrow(/duration/);
  });
  it('copies the audio too when the AAC recorded with the run is given: nothing is encoded', () => {
    const aac = ['-itsoffset', '-0.021', '-f', 'concat', '-safe', '0', '-i', 'aac.txt'];
    const args = remuxPartArgs(['-i', 'run.mkv'], { durationMs: 2500, hasAudio: true }, 'part.ts', aac);
    expect(args.join(' ')).toBe('-thread_queue_size 1024 -i run.mkv -thread_queue_size 1024 -itsoffset -0.021 -f concat -safe 0 -i aac.txt -map 0:v:0 -c:v copy -map 1:a:0 -c:a copy -t 2.500 -f mpegts part.ts');
  });
});
