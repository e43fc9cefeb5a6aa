// Run as a separate process by recorder.test.ts: starts a recorder with the ffmpeg argv
// given after argv[1] (after `--sdp <file>`, whose text is written to its stdin, when given),
// prints its pid as one JSON line, and stays alive until killed.
import { readFileSync } from 'node:fs';
import { spawnRecorder } from '../../../workers/media/ffmpeg.ts';

const args = process.argv.slice(2);
const sdp = args[0] === '--sdp' ? readFileSync(args[1] ?? '', 'utf8') : undefined;
const recorder = spawnRecorder(sdp === undefined ? args : args.slice(2), sdp === undefined ? {} : { sdp });
process.stdout.write(`${JSON.stringify({ pid: recorder.pid })}\n`);
setInterval(() => undefined, 1000);
