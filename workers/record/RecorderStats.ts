/**
 * What the recorders of this workers process did, for /metrics (workersMetrics.ts):
 * segments stored (and their bytes) and segments that failed to store, and recorder runs by
 * how they ended — a run that ends with `next-run` leaves a gap in the recording (its SFU
 * died, the broadcaster's tracks changed, ffmpeg exited) until the next run starts.
 */
export class RecorderStats {
  segmentsStored = 0;
  bytesStored = 0;
  segmentStoreFailures = 0;
  readonly runsEnded = new Map<string, number>();

  segmentStored(bytes: number): void {
    this.segmentsStored++;
    this.bytesStored += bytes;
  }

  segmentFailed(): void {
    this.segmentStoreFailures++;
  }

  runEnded(outcome: string): void {
    this.runsEnded.set(outcome, (this.runsEnded.get(outcome) ?? 0) + 1);
  }
}
