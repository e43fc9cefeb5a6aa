/** A real S3 endpoint of the test's own: scripts/cluster/rgw.ts (`npm run cluster` starts one too). */
import type { Rgw } from '../../scripts/cluster/rgw.ts';

export { startRgw, type Rgw } from '../../scripts/cluster/rgw.ts';

/** The `storage` config of a service on this RGW, in `bucket` under `prefix`. */
export function rgwStorage(rgw: Rgw, bucket: string, prefix: string) {
  return {
    kind: 's3' as const,
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket,
    prefix,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
    forcePathStyle: true,
  };
}

/** The same for a workers process, as its environment. */
export function rgwStorageEnv(rgw: Rgw, bucket: string, prefix: string): Record<string, string> {
  return {
    SPYGLASS_STORAGE: 's3',
    SPYGLASS_S3_ENDPOINT: rgw.endpoint,
    SPYGLASS_S3_REGION: rgw.region,
    SPYGLASS_S3_BUCKET: bucket,
    SPYGLASS_S3_PREFIX: prefix,
    SPYGLASS_S3_ACCESS_KEY: rgw.accessKeyId,
    SPYGLASS_S3_SECRET_KEY: rgw.secretAccessKey,
  };
}
