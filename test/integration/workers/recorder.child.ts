// Run as a separate process by recorder.test.ts: starts a recorder with the ffmpeg argv
// given after argv[1], prints its pid as one JSON line, and stays alive until killed.
import { spawnRecorder } from '../../../workers/media/ffmpeg.ts';

const recorder = spawnRecorder(process.argv.slice(2));
process.stdout.write(`${JSON.stringify({ pid: recorder.pid })}\n`);
setInterval(() => undefined, 1000);
