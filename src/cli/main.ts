/**
 * The `erasure` command line: `npx erasure --help`.
 *   catalog check <file>              validate a systems catalog and reach every system
 *   verify <certificate.json>         verify a certificate offline
 *   verify-subject <certificate.json> check an identifier against a certificate's commitment
 *   ledger check                      walk the certificate hash chain
 *   bundle-workflows [--out FILE]     prebuild the workflow code for workers (WORKFLOW_BUNDLE)
 *   config check | doc                validate this environment / print the variable reference
 */
import { Command } from 'commander';
import pkg from '../../package.json';
import { registerBundleCommands } from './bundle';
import { registerCatalogCommands } from './catalog';
import { registerCertificateCommands } from './certificate';
import { registerConfigCommands } from './config';

/** Builds the program; tests call it with their own arguments. */
export function buildProgram(): Command {
  const program = new Command('erasure').description('GDPR/CCPA erasure engine on Temporal').version(pkg.version);
  // Usage mistakes exit 2, so they never look like a failed check (exit 1).
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
  registerCatalogCommands(program);
  registerCertificateCommands(program);
  registerBundleCommands(program);
  registerConfigCommands(program);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('erasure.js') || process.argv[1]?.endsWith('erasure')) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      process.stderr.write(`erasure: ${err.message}\n`);
      process.exitCode = 2;
    });
}
