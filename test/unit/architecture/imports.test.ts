import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The layering rules of docs/architecture.md, as dependency-cruiser rules
 * (.dependency-cruiser.cjs) over every folder: which folder may import which, no cycles, no
 * dev dependency in product code, every import resolvable.
 */
const root = path.join(import.meta.dirname, '..', '..', '..');
const FOLDERS = ['common', 'sfu', 'signaling', 'workers', 'web', 'scripts', 'bench', 'test', 'testkit'];
const depcruise = path.join(root, 'node_modules', '.bin', 'depcruise');

interface Result {
  summary: { totalCruised: number; violations: Array<{ rule: { name: string }; from: string; to: string }> };
}

async function cruise(cwd: string, folders: string[]): Promise<Result> {
  const args = ['--config', path.join(root, '.dependency-cruiser.cjs'), '--output-type', 'json', ...folders];
  // Exit code 1 means "violations found"; the JSON says which.
  const { stdout } = await promisify(execFile)(depcruise, args, { cwd, maxBuffer: 64 * 1024 * 1024 }).catch(
    (caught: unknown) => {
      const err = caught as { stdout?: string; code?: number };
      if (err.code === 1 && err.stdout) return { stdout: err.stdout };
      throw caught;
    },
  );
  return JSON.parse(stdout) as Result;
}

const violations = (r: Result) => r.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);

describe('architecture', () => {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'spyglass-layers-'));
  afterAll(() => rmSync(probe, { recursive: true, force: true }));

  it('every folder keeps the rules', async () => {
    const r = await cruise(root, FOLDERS);
    expect(r.summary.totalCruised).toBeGreaterThan(200);
    expect(violations(r)).toEqual([]);
  }, 60_000);

  it('the rules bite: signalling loading workers code, a cycle, web importing the server', async () => {
    const files: Record<string, string> = {
      'tsconfig.json': '{"compilerOptions":{"module":"NodeNext","moduleResolution":"NodeNext","allowImportingTsExtensions":true,"noEmit":true}}',
      'package.json': '{"type":"module"}',
      'workers/job.ts': 'export const job = 1;\n',
      'signaling/a.ts': "import { job } from '../workers/job.ts';\nimport { b } from './b.ts';\nexport const a = job + b;\n",
      'signaling/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n",
      'web/page.ts': "import { a } from '../signaling/a.ts';\nexport const page = a;\n",
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(probe, name)), { recursive: true });
      writeFileSync(path.join(probe, name), text);
    }
    const found = violations(await cruise(probe, ['signaling', 'workers', 'web']));
    expect(found).toContain('signaling-never-loads-workers: signaling/a.ts → workers/job.ts');
    expect(found).toContain('web-on-the-wire-contract: web/page.ts → signaling/a.ts');
    expect(found.some((v) => v.startsWith('no-circular: signaling/'))).toBe(true);
  }, 60_000);
});
