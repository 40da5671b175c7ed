// The certificate commands as a process of their own, for tests that check real exit codes and output.
import { Command } from 'commander';
import { registerCertificateCommands } from '../../src/cli/certificate';

const program = new Command('erasure');
registerCertificateCommands(program);
program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 70;
});
