import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering rules of docs/architecture.md, checked on the source: which top-level folder
 * may import which, and no import cycles.
 */
const root = path.join(import.meta.dirname, '..', '..', '..');
const LAYERS = ['common', 'sfu', 'signaling', 'workers', 'web'] as const;
type Layer = (typeof LAYERS)[number];

const ALLOWED: Record<Layer, (target: string) => boolean> = {
  common: (t) => t.startsWith('common/'),
  sfu: (t) => t.startsWith('common/') || t.startsWith('sfu/'),
  workers: (t) => t.startsWith('common/') || t.startsWith('workers/'),
  // The contracts with the workers process live in common/jobs/: a node that serves media and
  // signalling never loads workers/ code, so it can run on a host without the workers.
  signaling: (t) => /^(common|sfu|signaling)\//.test(t),
  web: (t) => t.startsWith('common/protocol/') || t.startsWith('web/'),
};

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(sourceFiles(full));
    else if (/\.ts$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('vite.config.ts')) out.push(full);
  }
  return out;
}

/** Relative imports of a file, resolved to repo-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // Static imports and re-exports, dynamic import() and bare side-effect imports.
  const specs = [
    ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|^import\s+['"](\.[^'"]+)['"]/gm),
  ].map((m) => m[1] ?? m[2] ?? m[3]!);
  return specs.map((s) => path.relative(root, path.resolve(path.dirname(file), s)).split(path.sep).join('/'));
}

const files = LAYERS.flatMap((l) => sourceFiles(path.join(root, l)));
const graph = new Map(files.map((f) => [path.relative(root, f).split(path.sep).join('/'), importsOf(f)]));

describe('architecture', () => {
  it('finds the source', () => {
    expect(graph.size).toBeGreaterThan(30);
  });

  it.each(LAYERS)('%s imports only what its layer may', (layer) => {
    const violations = [...graph]
      .filter(([from]) => from.startsWith(`${layer}/`))
      .flatMap(([from, targets]) => targets.filter((t) => !ALLOWED[layer](t)).map((t) => `${from} → ${t}`));
    expect(violations).toEqual([]);
  });

  it('keeps signaling/ and sfu/ out of workers/ entirely', () => {
    const intoWorkers = [...graph]
      .filter(([from]) => from.startsWith('signaling/') || from.startsWith('sfu/'))
      .flatMap(([from, targets]) => targets.filter((t) => t === 'workers' || t.startsWith('workers/')).map((t) => `${from} → ${t}`));
    expect(intoWorkers).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (node: string, stack: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'visiting') {
        cycles.push([...stack.slice(stack.indexOf(node)), node].join(' → '));
        return;
      }
      state.set(node, 'visiting');
      for (const next of graph.get(node) ?? []) if (graph.has(next)) visit(next, [...stack, node]);
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
