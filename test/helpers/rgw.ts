/** A real S3 endpoint of the test's own: scripts/cluster/rgw.ts (`npm run cluster` starts one too). */
export { startRgw, type Rgw } from '../../scripts/cluster/rgw.ts';
