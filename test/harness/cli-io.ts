/** A CLI io that records what a command printed and how it would exit, for the CLI commands' tests. */
import type { CliIo } from '../../src/cli/io';

export interface CapturedIo {
  /** Pass this to the command: the io every command of the `erasure` CLI writes through. */
  io: CliIo;
  /** Lines written to stdout and stderr, in order. */
  out: string[];
  err: string[];
  /** The exit code the command set, if any. */
  code(): number | undefined;
}

/**
 * An io for one command run, with `env` as its environment.
 * @example const c = captureIo({ DATABASE_URL: url }); await runLedgerCheck({}, c.io); assert.equal(c.code(), 0);
 */
export function captureIo(env: NodeJS.ProcessEnv = {}): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  let code: number | undefined;
  return {
    io: { out: (l) => out.push(l), err: (l) => err.push(l), env, setExitCode: (c) => (code = c) },
    out,
    err,
    code: () => code,
  };
}
