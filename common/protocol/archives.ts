/** The archive ("Download your data") wire shapes. Browser-safe. */

export type ArchiveState = 'building' | 'ready' | 'failed';

export interface ArchiveSummary {
  id: string;
  state: ArchiveState;
  /** 0–100 while building; 100 when ready. */
  percent: number;
  sizeBytes: number | null;
  /**
   * The archive's checksum: the SHA-256 of the zip's `manifest.json` (which lists every file's
   * SHA-256), not of the zip itself (#12; docs/archives.md, "Integrity"). Archives built before
   * that carry the zip's SHA-256 here.
   */
  sha256: string | null;
  /** Why it failed (e.g. disk space); null otherwise. */
  reason: string | null;
  createdAt: string;
  /** When the download link stops working (ready archives). */
  expiresAt: string | null;
  /** A signed download link (Range supported) while ready and not expired; else null. */
  downloadUrl: string | null;
}
