/** A real S3 endpoint of the test's own: scripts/cluster/rgw.ts (`npm run cluster` starts one too). */
import { s3StorageEnv, type Rgw } from '../../scripts/cluster/rgw.ts';

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
export { s3StorageEnv as rgwStorageEnv };
