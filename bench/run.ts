import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCHMARKS, ON_REQUEST_ONLY, isBenchmarkName, type BenchmarkName } from './benchmarks.ts';
import { machineInfo } from './lib/machine.ts';
import { machineCpuTicks } from './lib/proc.ts';
import { RESULTS_DIR, runIdOf, writeLatest, writeMergedLatest, writeResult } from './lib/results.ts';
import { runBenchmark } from './runBenchmark.ts';
import type { LatestFigures } from './types.ts';

/**
 * The benchmark runner.
 *
 *   tsx bench/run.ts                 every benchmark but the soak (npm run bench); writes latest.json
 *   tsx bench/run.ts fanout join     some of them (npm run bench:fanout, bench:join)
 *   tsx bench/run.ts soak --minutes 60   the soak, for how long (npm run bench:soak -- --minutes 60)
 *   tsx bench/run.ts --smoke [names] tiny mode, prints only (what test/bench runs)
 *
 * Every result is wrapped in the same envelope (name, smoke, start, duration, machine; the
 * benchmark's own config) by `runBenchmark` (bench/runBenchmark.ts).
 * A non-smoke run writes bench/results/<runId>/<name>.json and .svg, plus summary.md;
 * a run of every benchmark also rewrites bench/results/latest.json, a run of some merges the
 * keys of those that succeeded into it (recorded under `merged`).
 */

const USAGE = `usage: tsx bench/run.ts [--smoke] [--minutes N] [${Object.keys(BENCHMARKS).join('|')} ...]`;

async function main(argv: string[]): Promise<number> {
  const smoke = argv.includes('--smoke');
  const minutesAt = argv.indexOf('--minutes');
  const minutes = minutesAt >= 0 ? Number(argv[minutesAt + 1]) : undefined;
  const rest = minutesAt >= 0 ? argv.filter((_, i) => i !== minutesAt && i !== minutesAt + 1) : argv;
  const names = rest.filter((a) => !a.startsWith('--'));
  const unknownFlags = rest.filter((a) => a.startsWith('--') && a !== '--smoke');
  const badMinutes = minutes !== undefined && !(Number.isFinite(minutes) && minutes > 0);
  if (argv.includes('--help') || badMinutes || unknownFlags.length > 0 || names.some((n) => !isBenchmarkName(n))) {
    console.error(USAGE);
    return argv.includes('--help') ? 0 : 2;
  }
  const everyDefault = (Object.keys(BENCHMARKS) as BenchmarkName[]).filter((n) => !ON_REQUEST_ONLY.has(n));
  const selected = (names.length > 0 ? names : everyDefault) as BenchmarkName[];
  const all = everyDefault.every((n) => selected.includes(n));
  const at = new Date();
  const runId = runIdOf(at);
  const machine = machineInfo();
  const log = (line: string) => console.error(`[bench] ${line}`);
  log(`${smoke ? 'smoke' : 'full'} run ${runId} on ${machine.cores} × ${machine.cpuModel}: ${selected.join(', ')}`);
  // Figures are only worth keeping from a quiet machine: say how busy it was before we began.
  const busyBefore = smoke ? null : await machineBusyOver(2000);
  if (busyBefore !== null) {
    log(`machine ${Math.round(busyBefore * 100)} % busy before the run${busyBefore > 0.1 ? ' — WARNING: something else is running; figures will be off' : ''}`);
  }

  const figures: Partial<LatestFigures> = {};
  const files: Record<string, { json: string; svg: string }> = {};
  const report: string[] = [];
  let failed = 0;
  for (const name of selected) {
    const bench = BENCHMARKS[name];
    try {
      // The envelope (name, smoke, timings, machine) is written here, once, around every result.
      const result = await runBenchmark(name, bench, { smoke, log, minutes }, machine);
      const lines = bench.describe(result);
      for (const l of lines) log(`${name}: ${l}`);
      Object.assign(figures, bench.summary(result));
      report.push(`### ${name}`, '', ...lines.map((l) => `- ${l}`), '');
      if (!smoke) {
        files[name] = writeResult(runId, name, result, bench.chart(result));
        log(`${name}: wrote ${files[name].json} and ${files[name].svg}`);
      }
    } catch (error) {
      failed += 1;
      log(`${name} FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (!smoke && Object.keys(files).length > 0) {
    const md = [
      `# Benchmark run ${runId}`,
      '',
      `Machine: ${machine.cores} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}, mediasoup ${machine.mediasoup}, ffmpeg ${machine.ffmpeg}` +
        (busyBefore !== null ? `; ${Math.round(busyBefore * 100)} % busy before the run.` : '.'),
      '',
      ...report,
    ].join('\n');
    writeFileSync(path.join(RESULTS_DIR, runId, 'summary.md'), `${md}\n`);
    if (all && failed === 0) {
      const file = writeLatest(at, runId, { ...machine, busyBeforeRun: busyBefore }, figures, files);
      log(`wrote ${path.relative(process.cwd(), file)}`);
    } else if (!all && Object.keys(figures).length > 0) {
      const file = writeMergedLatest(at, runId, { ...machine, busyBeforeRun: busyBefore }, figures, files);
      log(`merged ${Object.keys(figures).join(', ')} into ${path.relative(process.cwd(), file)}`);
    }
  }
  console.log(JSON.stringify({ runId, smoke, ...figures }, null, 2));
  return failed > 0 ? 1 : 0;
}

/** Busy fraction of all cores over the next `ms`. */
async function machineBusyOver(ms: number): Promise<number | null> {
  const a = machineCpuTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = machineCpuTicks();
  return a && b && b.total > a.total ? Math.round(((b.busy - a.busy) / (b.total - a.total)) * 1000) / 1000 : null;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
