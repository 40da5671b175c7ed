// Lint rules that guard what the compiler cannot: workflow determinism and unhandled promises.
'use strict';
const tseslint = require('typescript-eslint');

const ioModules = ['fs', 'path', 'os', 'crypto', 'http', 'https', 'net', 'child_process', 'worker_threads', 'pg', 'express', 'yaml', 'pino', 'prom-client'];

/** `no-restricted-imports` refusing I/O modules and Node built-ins (with `why`), plus `patterns`. */
const restrictImports = (why, patterns) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: ioModules.map((name) => ({ name, message: why })),
      patterns: [{ group: ['node:*'], message: `${why} (no Node built-ins)` }, ...patterns],
    },
  ],
});

module.exports = tseslint.config(
  { ignores: ['node_modules/**', 'lib/**', '.tools/**', '.data/**', 'bench/results/**', '**/.scratch/**', '**/*.js'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins, no client SDKs.
    files: ['src/workflows/**/*.ts'],
    rules: restrictImports('workflow code must be deterministic: do I/O in an activity', [
      { group: ['@aws-sdk/*', '@elastic/*', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'], message: 'workflow code may import only @temporalio/workflow and @temporalio/common' },
      // Beside its own folder, workflow code may load only the pure domain model; everything else (activity
      // and system types, the registry) comes in with `import type`, which the bundle never sees.
      { group: ['../*', '!../domain', '!../domain/*'], message: 'workflow code loads only ./ and ../domain at run time; use import type for the rest', allowTypeImports: true },
    ]),
  },
  {
    // The domain model is imported by workflow code and by every process: pure types, lists and schemas.
    files: ['src/domain/**/*.ts'],
    rules: restrictImports('the domain model is pure: no I/O', [
      { group: ['@*'], message: 'the domain model depends on zod only' },
      { group: ['../*'], message: 'the domain model imports nothing of the engine at run time (import type is fine)', allowTypeImports: true },
    ]),
  },
);
