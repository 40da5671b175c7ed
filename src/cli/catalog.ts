/**
 * The catalog commands of the `erasure` CLI:
 *   catalog check <file> [--no-connect] [--timeout <ms>]
 *
 * Validates the file (every mistake with its line and path), then checks every system as its kind's
 * descriptor says (src/systems/<kind>/index.ts: the worker's own connector, or a skip for systems a person
 * erases) and prints one line per system. Exit code 0 when the file is valid and every system answered,
 * 1 otherwise.
 */
import type { Command } from 'commander';
import { CatalogError, loadCatalog } from '../catalog/load';
import { withheldFromCatalog } from '../config';
import type { Catalog } from '../catalog/schema';
import { checkSystem, type SystemKind } from '../systems/registry';
import { processIo, type CliIo } from './io';

export interface SystemCheck {
  id: string;
  kind: SystemKind;
  status: 'ok' | 'fail' | 'skip';
  message: string;
  ms: number;
}

/**
 * Reaches every system of a catalog, all at once, each within `timeoutMs`, as its kind's descriptor says.
 * @example const results = await checkCatalog(loadCatalog('catalog.yaml'));
 */
export async function checkCatalog(catalog: Catalog, opts: { timeoutMs?: number } = {}): Promise<SystemCheck[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return Promise.all(
    catalog.systems.map(async (system): Promise<SystemCheck> => {
      const started = Date.now();
      try {
        const { status, message } = await checkSystem(system, { timeoutMs });
        return { id: system.id, kind: system.kind, status, message, ms: status === 'skip' ? 0 : Date.now() - started };
      } catch (err) {
        return { id: system.id, kind: system.kind, status: 'fail', message: (err as Error).message, ms: Date.now() - started };
      }
    }),
  );
}

/** One aligned line per system. */
export function formatChecks(results: SystemCheck[]): string[] {
  const idWidth = Math.max(2, ...results.map((r) => r.id.length));
  const kindWidth = Math.max(4, ...results.map((r) => r.kind.length));
  return results.map((r) => {
    const status = r.status === 'ok' ? 'ok  ' : r.status === 'skip' ? 'skip' : 'FAIL';
    const time = r.status === 'skip' ? '' : ` (${r.ms} ms)`;
    return `${status}  ${r.id.padEnd(idWidth)}  ${r.kind.padEnd(kindWidth)}  ${r.message}${time}`;
  });
}

/** Runs `catalog check`; returns the exit code it set. */
export async function runCatalogCheck(file: string, opts: { connect?: boolean; timeoutMs?: number }, io: CliIo = processIo()): Promise<number> {
  let catalog: Catalog;
  try {
    // The engine's own rules: its secrets are withheld from the catalog, so the check accepts what a worker would.
    catalog = loadCatalog(file, io.env, { withheld: withheldFromCatalog });
  } catch (err) {
    if (!(err instanceof CatalogError)) throw err;
    err.problems.forEach((p) => io.err(p));
    io.err(`${file}: ${err.problems.length} problem${err.problems.length > 1 ? 's' : ''}; nothing was contacted`);
    io.setExitCode(1);
    return 1;
  }
  io.out(`${file}: valid, ${catalog.systems.length} system${catalog.systems.length === 1 ? '' : 's'}, ${catalog.consumers.length} consumer${catalog.consumers.length === 1 ? '' : 's'}`);
  if (opts.connect === false) {
    io.setExitCode(0);
    return 0;
  }
  const results = await checkCatalog(catalog, { timeoutMs: opts.timeoutMs });
  formatChecks(results).forEach((line) => io.out(line));
  const failed = results.filter((r) => r.status === 'fail').length;
  if (failed) io.err(`${failed} of ${results.length} system${results.length > 1 ? 's' : ''} failed the check`);
  const code = failed ? 1 : 0;
  io.setExitCode(code);
  return code;
}

/** Adds `catalog check <file>` to the program. */
export function registerCatalogCommands(program: Command, io: CliIo = processIo()): void {
  const catalog = program.command('catalog').description('work with the systems catalog');
  catalog
    .command('check')
    .description('validate a catalog file and check that every system in it can be reached')
    .argument('<file>', 'catalog YAML (${VAR} references are read from the environment)')
    .option('--no-connect', 'validate only; contact no system')
    .option('--timeout <ms>', 'per-system time limit in milliseconds', (v) => parseInt(v, 10), 10_000)
    .action(async (file: string, options: { connect: boolean; timeout: number }) => {
      await runCatalogCheck(file, { connect: options.connect, timeoutMs: options.timeout }, io);
    });
}
