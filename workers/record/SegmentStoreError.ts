/** Segments of a finished recorder run that could not be stored; they stay in the run's local directory. */
export class SegmentStoreError extends Error {
  override readonly name = 'SegmentStoreError';
  readonly code = 'SEGMENT_STORE_FAILED';
  /** The segment files not stored. */
  readonly files: readonly string[];
  /** The run's local directory, where they are. */
  readonly dir: string;

  constructor(files: string[], dir: string, options?: { cause?: unknown }) {
    super(`${files.length} segment(s) could not be stored (${files.slice(0, 5).join(', ')}); they are in ${dir}`, options);
    this.files = files;
    this.dir = dir;
  }
}
