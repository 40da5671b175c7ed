/**
 * The `erasure` command line: `npx erasure --help`.
 *   catalog check <file>              validate a systems catalog and reach every system
 *   verify <certificate.json>         verify a certificate offline
 *   verify-subject <certificate.json> check an identifier against a certificate's commitment
 *   ledger check                      walk the certificate hash chain
 *   preview --catalog FILE --email …  what an erasure would delete, anonymize, keep and derive; changes nothing
 *   report [--from D] [--to D]        the erasure report for auditors (table, --format csv|json)
 *   bundle-workflows [--out FILE]     prebuild the workflow code for workers (WORKFLOW_BUNDLE)
 *   config check | doc                validate this environment / print the variable reference
 *   bulk confirm|retry|extend|status  one operator action for many requests, through the API (a Temporal batch)
 *   system list|pause|resume|log      pause one system for every request and resume it, through the API
 */
import { Command } from 'commander';
import pkg from '../../package.json';
import { registerBundleCommands } from './bundle';
import { registerBulkCommands } from './bulk';
import { registerCatalogCommands } from './catalog';
import { registerCertificateCommands } from './certificate';
import { registerConfigCommands } from './config';
import { registerPreviewCommand } from './preview';
import { registerReportCommand } from './report';
import { registerSystemCommands } from './system';
import { processIo, type CliIo } from './io';

/**
 * Builds the program; every command writes through `io`.
 * @example await buildProgram().parseAsync(['node', 'erasure', 'config', 'check']);
 */
export function buildProgram(io: CliIo = processIo()): Command {
  const program = new Command('erasure').description('GDPR/CCPA erasure engine on Temporal').version(pkg.version);
  // Usage mistakes exit 2, so they never look like a failed check (exit 1).
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
  registerCatalogCommands(program, io);
  registerCertificateCommands(program, io);
  registerPreviewCommand(program, io);
  registerReportCommand(program, io);
  registerBundleCommands(program, io);
  registerConfigCommands(program, io);
  registerBulkCommands(program, io);
  registerSystemCommands(program, io);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('erasure.js') || process.argv[1]?.endsWith('erasure')) {
  const io = processIo();
  buildProgram(io)
    .parseAsync(process.argv)
    .catch((err: Error) => {
      io.err(`erasure: ${err.message}`);
      io.setExitCode(2);
    });
}
