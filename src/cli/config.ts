/**
 * The configuration commands of the `erasure` CLI:
 *   config check                  would a worker and an API start with this environment?
 *   config doc [--write FILE]     the variable reference, generated from src/config/schema.ts
 *
 * `check` validates everything the engine reads before it connects anywhere (formats, the master key,
 * the signing key, the API keys, the catalog with its `${VAR}`s) and lists which variables are set; it never
 * prints a value.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { loadCatalog } from '../catalog/load';
import { catalogOptions, ConfigError, loadConfig, signingKeySource, variableNames } from '../config';
import { configurationTable, writeConfigurationTable } from '../config/doc';
import { processIo, type CliIo } from './io';

/**
 * `erasure config check`: exit 0 when the environment describes a runnable worker and API, 1 with every
 * problem named otherwise.
 * @example await runConfigCheck(processIo()) // 0 when valid
 */
export async function runConfigCheck(io: CliIo): Promise<number> {
  const problems: string[] = [];
  try {
    const config = loadConfig(io.env);
    // Loaded here: the key modules bring the database driver and crypto set-up, which `doc` never needs.
    const [{ loadMasterKey }, { loadSigningKey }, { parseApiKeys }] = await Promise.all([import('../codec/keys'), import('../certificate/keys'), import('../api/auth')]);
    const attempt = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        problems.push((err as Error).message);
      }
    };
    attempt(() => loadMasterKey(config));
    attempt(() => parseApiKeys(config.API_KEYS, config.API_KEYS_FILE));
    // Checked without the data folder, so a check never writes a key: a key the engine would generate there is fine.
    const source = signingKeySource(config);
    const wouldGenerate = !source.pem && !source.file && source.generate && source.dataDir;
    if (!wouldGenerate) attempt(() => loadSigningKey({ ...source, dataDir: undefined }));
    // The catalog as the worker would load it (its secrets withheld), without contacting any system.
    attempt(() => loadCatalog(path.resolve(config.ERASURE_CATALOG), io.env, catalogOptions(config)));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err.message);
  }
  if (problems.length) {
    problems.forEach((p) => io.err(p));
    io.setExitCode(1);
    return 1;
  }
  const set = variableNames.filter((name) => (io.env[name] ?? '').trim() !== '');
  io.out(`configuration valid: ${set.length} of ${variableNames.length} variables set (${set.join(', ') || 'none'}); the others take their defaults`);
  io.setExitCode(0);
  return 0;
}

/** Adds `config check` and `config doc` to the program. */
export function registerConfigCommands(program: Command, io: CliIo = processIo()): void {
  const config = program.command('config').description('the environment variables the engine reads');
  config
    .command('check')
    .description('validate this environment as the worker and the API would, without connecting anywhere (exit 0 when valid)')
    .action(async () => {
      await runConfigCheck(io);
    });
  config
    .command('doc')
    .description('print the reference table of every variable (Markdown), or write it into a document between its markers')
    .option('--write <file>', 'replace the generated table in this Markdown file (docs/configuration.md)')
    .action((opts: { write?: string }) => {
      if (opts.write) {
        writeConfigurationTable(opts.write);
        io.out(`wrote the configuration table into ${opts.write}`);
      } else io.out(configurationTable());
    });
}
