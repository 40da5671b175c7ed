/**
 * `erasure bundle-workflows [--out FILE]`: writes the prebuilt workflow bundle that a worker loads when
 * `WORKFLOW_BUNDLE` names it (see `src/temporal/workflow-bundle.ts`).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { processIo, type CliIo } from './io';

export const defaultBundleFile = '.build/workflow-bundle.js';

/** Adds `bundle-workflows` to the program. */
export function registerBundleCommands(program: Command, io: CliIo = processIo()): void {
  program
    .command('bundle-workflows')
    .description('prebuild the workflow code for workers (then set WORKFLOW_BUNDLE to the file)')
    .option('--out <file>', 'where to write the bundle', defaultBundleFile)
    .action(async (options: { out: string }) => {
      // Loaded here: webpack and the worker SDK are heavy, and no other command needs them.
      const { writeWorkflowBundle } = await import('../temporal/workflow-bundle');
      const started = Date.now();
      const { file, bytes, digest } = await writeWorkflowBundle(options.out);
      const shown = path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file);
      io.out(`wrote ${shown} (${Math.round(bytes / 1024)} KiB, sources sha256 ${digest.slice(0, 12)}…) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      io.out(`start workers with WORKFLOW_BUNDLE=${file}`);
    });
}
