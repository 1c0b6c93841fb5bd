// The Worker entry. `ks-model-bundle` is this network's model files, aliased per network
// by its generated wrangler config (see src/worker-host/worker-bundle.ts).
import bundle from 'ks-model-bundle';
import { createWorker } from './worker-app';

export default createWorker(bundle);
