import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MachineInfo } from './machine.ts';
import { emptyLatestFigures, type LatestFigures } from '../types.ts';

/** Where results go: bench/results/<runId>/<benchmark>.{json,svg}, and bench/results/latest.json. */
export const RESULTS_DIR = path.join(import.meta.dirname, '..', 'results');

/** A run id that sorts by time and is a valid file name, e.g. 2025-11-22T04-05-06Z. */
export function runIdOf(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Writes one benchmark's result and chart; returns the paths relative to the repo. */
export function writeResult(runId: string, name: string, result: unknown, svg: string): { json: string; svg: string } {
  const dir = path.join(RESULTS_DIR, runId);
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${name}.json`);
  const chart = path.join(dir, `${name}.svg`);
  writeFileSync(json, `${stringify(result)}\n`);
  writeFileSync(chart, svg);
  const rel = (p: string) => path.relative(path.join(RESULTS_DIR, '..', '..'), p);
  return { json: rel(json), svg: rel(chart) };
}

/** JSON with two-space indentation, but arrays of numbers (and pairs) kept on one line. */
export function stringify(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[[-\d.,\s\[\]enull]*\]/g, (m) => (m.includes('\n') ? m.replace(/\s+/g, '') : m));
}

export interface Latest extends LatestFigures {
  at: string;
  runId: string;
  machine: MachineInfo & { busyBeforeRun: number | null };
  /** Result files of the run, by benchmark. */
  files: Record<string, { json: string; svg: string }>;
  /**
   * Benchmarks whose keys (and files) come from a later run of only some benchmarks
   * (`npm run bench:<name>`), with that run; every other key is from the run above. A run of
   * every benchmark writes the file anew, without this.
   */
  merged?: Record<string, { at: string; runId: string; machine: Latest['machine'] }>;
}

/** Writes bench/results/latest.json: every figure from this one run, null where not measured. */
export function writeLatest(at: Date, runId: string, machine: Latest['machine'], figures: Partial<LatestFigures>, files: Latest['files']): string {
  return saveLatest({ at: at.toISOString(), runId, machine, ...emptyLatestFigures(), ...figures, files });
}

/**
 * latest.json with the keys of the benchmarks of a partial run (those with figures and files)
 * replaced by that run's, and recorded under `merged`; everything else as it was. With no
 * latest.json yet, the others are null and the run's time and machine head the file.
 */
export function mergeLatest(
  previous: Latest | null,
  at: Date,
  runId: string,
  machine: Latest['machine'],
  figures: Partial<LatestFigures>,
  files: Latest['files'],
): Latest {
  const empty = emptyLatestFigures();
  const latest: Latest = { at: at.toISOString(), runId, machine, ...empty, ...previous, files: { ...previous?.files }, merged: { ...previous?.merged } };
  for (const name of Object.keys(figures)) {
    const f = files[name];
    if (!Object.hasOwn(empty, name) || !f) continue;
    Object.assign(latest, { [name]: figures[name as keyof LatestFigures] });
    latest.files[name] = f;
    latest.merged![name] = { at: at.toISOString(), runId, machine };
  }
  return latest;
}

/** Merges a partial run's keys into bench/results/latest.json (see {@link mergeLatest}). */
export function writeMergedLatest(at: Date, runId: string, machine: Latest['machine'], figures: Partial<LatestFigures>, files: Latest['files']): string {
  return saveLatest(mergeLatest(readLatest(), at, runId, machine, figures, files));
}

function saveLatest(latest: Latest): string {
  const file = path.join(RESULTS_DIR, 'latest.json');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify(latest, null, 2)}\n`);
  return file;
}

export function readLatest(): Latest | null {
  try {
    return JSON.parse(readFileSync(path.join(RESULTS_DIR, 'latest.json'), 'utf8')) as Latest;
  } catch {
    return null;
  }
}
