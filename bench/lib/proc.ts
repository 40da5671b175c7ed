/** One process's (or thread's) line of /proc: the parsing the benchmarks' CPU and memory readings share. */
import fs from 'node:fs';

const TICKS = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** Own CPU seconds (user + system, all threads). */
  cpu: number;
  /** CPU seconds of children it has reaped (exited PostgreSQL backends, for instance). */
  childCpu: number;
}

/** Parses `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`; `undefined` once the process is gone. */
export function readStat(file: string): ProcStat | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const open = raw.indexOf('(');
  const close = raw.lastIndexOf(')');
  const f = raw.slice(close + 2).split(' ');
  return {
    pid: Number(raw.slice(0, open).trim()),
    comm: raw.slice(open + 1, close),
    ppid: Number(f[1]),
    cpu: (Number(f[11]) + Number(f[12])) / TICKS,
    childCpu: (Number(f[13]) + Number(f[14])) / TICKS,
  };
}
