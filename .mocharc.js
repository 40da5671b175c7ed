// Mocha runs the TypeScript tests through ts-node (type checking is a separate step: npm run typecheck).
module.exports = {
  require: ['ts-node/register/transpile-only', './test/harness/setup.ts'],
  extension: ['ts'],
  spec: ['test/**/*.test.ts'],
  timeout: 180000,
  slow: 10000,
  exit: true,
  reporter: require.resolve('./test/harness/reporter.js'),
};
