/**
 * The layering rules of docs/architecture.md ("Folders and what they may import"), checked by
 * dependency-cruiser over every folder of the project, in `npm test`
 * (test/unit/architecture/imports.test.ts) and by `npx depcruise -c .dependency-cruiser.cjs .`.
 */
const PRODUCT = '^(common|sfu|signaling|workers|web|scripts)/';

/** A rule that `from` may import nothing of ours but `allowed` (npm packages and node: builtins are not ours). */
const layer = (name, from, allowed, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: '^(common|sfu|signaling|workers|web|scripts|test|testkit|bench)/', pathNot: allowed },
});

module.exports = {
  forbidden: [
    layer('common-is-the-floor', '^common/', '^common/', 'common/ (wire contract, config, jobs, storage) imports nothing of ours'),
    layer('sfu-on-common', '^sfu/', '^(common|sfu)/', 'the SFU knows only common/'),
    layer(
      'signaling-never-loads-workers',
      '^signaling/',
      '^(common|sfu|signaling)/',
      'a node that serves media and signalling never loads workers/ code: the contracts live in common/jobs/',
    ),
    layer('workers-on-common', '^workers/', '^(common|workers)/', 'the workers process knows only common/'),
    layer('web-on-the-wire-contract', '^web/', '^(common/protocol|web)/', 'the browser bundle takes only the browser-safe wire contract'),
    layer('scripts-run-the-product', '^scripts/', '^(common|sfu|signaling|workers|scripts)/', 'CLIs and the supervisor use the product, never tests or benchmarks'),
    layer('testkit-drives-the-product', '^testkit/', '^(common|sfu|signaling|workers|scripts|testkit)/', 'the harness shared by tests and benchmarks (servers, browsers, synthetic peers) knows neither'),
    layer('bench-measures-the-product', '^bench/', '^((common|sfu|signaling|workers|scripts|bench|testkit)/|web/src/media\\.ts$)', 'benchmarks share testkit/ with the tests, nothing of test/; browser pages share the capture settings of web/src/media.ts'),
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import cycle makes start-up order and mocking fragile',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-dev-deps-in-product',
      severity: 'error',
      comment: 'product code must run from a production install (npm ci --omit=dev)',
      from: { path: PRODUCT, pathNot: '\\.config\\.ts$' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'every import resolves',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|web/dist|data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'] },
  },
};
