/**
 * What every command of the `erasure` CLI writes through and reads its environment from. Commands never
 * touch `process` themselves, so a test can run one with its own environment and read what it printed.
 */

/** Where a command writes, where its settings come from and how it ends; tests pass their own. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** The environment the command reads (`${VAR}`s of a catalog, ERASURE_JWKS, DATABASE_URL; validated by src/config). */
  env: NodeJS.ProcessEnv;
  setExitCode(code: number): void;
}

/**
 * The io of the real process: stdout, stderr, `process.env` and `process.exitCode`.
 * @example registerCatalogCommands(program, processIo());
 */
export const processIo = (): CliIo => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  setExitCode: (code) => {
    process.exitCode = code;
  },
});
