// Lint rules (issue #13): typescript-eslint's strict type-checked set plus the house rules
// (curly, no console in library code, file naming). `npm run lint` runs it; `npm test` runs lint.
// Every rule below that is turned off or relaxed says why.
import tseslint from 'typescript-eslint';
import unicorn from 'eslint-plugin-unicorn';

/** Product code: runs as a service, logs through pino (common/logger.ts), never to the console. */
const LIBRARY = ['common/**', 'sfu/**', 'signaling/**', 'workers/**', 'web/src/**'];
/** Command-line entry points and tests print to a terminal by design (bench/, scripts/, test/, and testkit/, which both use). */
const TERMINAL = ['bench/**', 'scripts/**', 'test/**', 'testkit/**'];

export default tseslint.config(
  // Generated (web/dist, bench/results, data/) and installed (node_modules) files.
  { ignores: ['**/node_modules/**', 'web/dist/**', 'bench/results/**', 'data/**', 'test-results/**'] },

  ...tseslint.configs.strictTypeChecked,
  {
    // A disable comment that no longer silences anything fails the lint: it would hide the next problem.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Relaxed: numbers and booleans read fine in messages and ids; objects, null and
      // undefined (the real mistakes: "[object Object]", "undefined") stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Relaxed: `() => void x()` and `(e) => emit(e)` callbacks are the tree's idiom for
      // fire-and-forget handlers; a void value used in any other expression stays an error.
      // Also `return next();` / `return bodyless(res, 304);` in a function that itself returns
      // void (Express middleware, handlers): the tree's way to end a handler on one line.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidOperator: true, ignoreVoidReturningFunctions: true },
      ],
      // Off: `async` without `await` is how the tree implements a Promise-returning interface
      // (Storage's `release: async () => undefined`, stores, fakes in tests): it turns a throw
      // into a rejection, which callers rely on; dropping `async` would change that.
      '@typescript-eslint/require-await': 'off',
      // Relaxed: a leading `_` marks a binding that is unused on purpose (an Express error
      // handler's 4th argument, an interface's argument), and `const { srtp: _key, ...rest } = o`
      // is how the tree leaves a field out of a copy (the recording key out of a log line).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Relaxed: `let server; closers.push(() => server?.close()); … server = listen()` is a
      // variable read (in a closure) before its one assignment; it cannot be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Relaxed: a caught value (typed `unknown`) kept and thrown again later, or an abort
      // signal's `reason` (typed `any`), is passed on as it came; wrapping it would change
      // what callers see (an AbortError, a driver error's code).
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true, allowRethrowing: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],

      // House rules. curly: a body on the line of its `if`/`for` may go without braces (the
      // tree's `if (!x) return;` guards, ~1500 of them); a body on its own line(s) needs them, so
      // a second statement can never be added outside the branch it was meant for.
      curly: ['error', 'multi-line'],
      'no-console': 'error',
    },
  },

  // Plain JavaScript (the zip hashing thread, a test preload, tool configs): no type
  // information for the type-checked rules (hashThread.mjs is checked by tsc through JSDoc).
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },

  // Relaxed in the stores: Number() around what the database returns is the guard at that
  // boundary: the Kysely table types say `number`, but Postgres returns int8 and counts as
  // strings unless a parser is set, and SQLite may return a bigint.
  { files: ['signaling/store/**'], rules: { '@typescript-eslint/no-unnecessary-type-conversion': 'off' } },

  // no-console: on in library code (above), off where the console is the user interface.
  { files: LIBRARY, rules: { 'no-console': 'error' } },
  { files: TERMINAL, rules: { 'no-console': 'off' } },

  // Relaxed in tests, benchmarks and their shared harness (testkit/): `x!` after an assertion or on a fixture that is there by
  // construction; a wrong one fails the test at once, which is what an assertion would do.
  { files: ['test/**', 'bench/**', 'testkit/**'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
  // Relaxed in tests: vitest's asymmetric matchers (`expect.any(String)`,
  // `expect.stringMatching(…)`) are typed `any`, and they are what a `toMatchObject` is made of.
  { files: ['test/**', 'testkit/**'], rules: { '@typescript-eslint/no-unsafe-assignment': 'off' } },
  // Off in tests (and testkit/, their harness): every condition it found there is a guard kept on purpose: teardown of a
  // fixture (`let server: TestServer` set in beforeAll) that a failed beforeAll never set,
  // `afterAll(() => server?.stop())`; JSON.stringify of fuzzed values (may be undefined);
  // child stdio; flags set by handlers while a test awaits.
  { files: ['test/**', 'testkit/**'], rules: { '@typescript-eslint/no-unnecessary-condition': 'off' } },
  // Off in tests and benchmarks: they take socket.io's `emit` untyped, to send raw or hostile
  // events, and always call it as `emit.call(socket, …)`; and wrap browser methods the same way.
  { files: ['test/**', 'bench/**', 'testkit/**'], rules: { '@typescript-eslint/unbound-method': 'off' } },

  // File naming: camelCase (functions, values, several exports) or PascalCase (a file named
  // after the class or interface it exports); the part after the first dot (.test, .child,
  // .browser, .d) is a role, not part of the name.
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.cjs', '**/*.js'],
    plugins: { unicorn },
    rules: { 'unicorn/filename-case': ['error', { cases: { camelCase: true, pascalCase: true } }] },
  },
  // Off for names that are not ours to choose: a declaration file is named after the npm
  // module it types (proxy-addr), a tool's config file after the tool.
  { files: ['**/*.d.ts', '.dependency-cruiser.cjs'], rules: { 'unicorn/filename-case': 'off' } },
);
