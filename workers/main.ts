import { runProcess } from '../common/processMain.ts';
import { startWorkers } from './startWorkers.ts';

/**
 * The workers process: record jobs (a live broadcast → segments), finalize jobs (segments →
 * replay) and archive jobs (a user's data → ZIP), composed in startWorkers.ts; what they
 * produce goes back to the signalling process through the `results` queue. On SIGTERM,
 * recordings stop cleanly and go back to the queue for another workers process; running
 * transcodes and archives finish.
 */
runProcess('workers', startWorkers);
