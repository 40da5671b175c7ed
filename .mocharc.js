// Mocha runs the TypeScript tests through ts-node (type checking is a separate step: npm run typecheck).
// `npx mocha test/api/api.test.ts` runs just that file: the default spec applies only when none is given.
const filesGiven = process.argv.slice(2).some((a) => /\.ts$|\*/.test(a) && !a.startsWith('-'));

module.exports = {
  require: ['ts-node/register/transpile-only', './test/harness/setup.ts'],
  extension: ['ts'],
  ...(filesGiven ? {} : { spec: ['test/**/*.test.ts'] }),
  timeout: 180000,
  slow: 10000,
  exit: true,
  reporter: require.resolve('./test/harness/reporter.js'),
};
