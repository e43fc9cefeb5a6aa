import { runProcess } from '../common/processMain.ts';
import { startWorkers } from './startWorkers.ts';

/**
 * The workers process: record and finalize jobs. On SIGTERM, recordings stop cleanly and go
 * back to the queue for another workers process; running transcodes finish.
 */
runProcess('workers', startWorkers);
