/**
 * What every benchmark prints and stores: a plain-text table on stdout and `bench/results/<name>.json`
 * with the machine it ran on, so figures are never read without their context.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const benchRoot = path.resolve(__dirname, '..');
export const resultsDir = path.join(benchRoot, 'results');

/** The machine's description stored beside every result. */
export function machine() {
  return {
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Prints rows as an aligned table. */
export function printTable(title: string, rows: Array<Record<string, string | number | boolean | null | undefined>>): void {
  if (rows.length === 0) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'number' ? fmt(v) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${line(cols)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => cell(r[c])))}\n`);
}

/** Numbers for humans: integers as is, others with 3 significant decimals at most. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(1) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

/** Writes `bench/results/<name>.json` and returns its path. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  const body = { benchmark: name, finishedAt: new Date().toISOString(), machine: machine(), ...result };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(`\nresults written to ${path.relative(process.cwd(), file)}\n`);
  return file;
}

/** Percentile (nearest rank) of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `--quick` and `--name=value` flags. */
export function args(): { quick: boolean; get(name: string): string | undefined; num(name: string, dflt: number): number } {
  const argv = process.argv.slice(2);
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return {
    quick: argv.includes('--quick'),
    get,
    num(name, dflt) {
      const v = get(name);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${v}"`);
      return n;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const cleanups = new Set<() => Promise<void>>();

/** Registers a stopper that runs if the benchmark dies before its own `finally` does; call the result to unregister. */
export function onCleanup(stop: () => Promise<void>): () => void {
  cleanups.add(stop);
  return () => cleanups.delete(stop);
}

/**
 * Runs `main` and exits. On a failure (including an uncaught error from a socket of a server that a fault
 * stopped) every registered stopper runs first, so no server outlives the benchmark.
 */
export function run(main: () => Promise<void>): void {
  let failing = false;
  const fail = async (err: unknown) => {
    if (failing) return;
    failing = true;
    process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    for (const stop of [...cleanups].reverse()) await stop().catch(() => undefined);
    process.exit(1);
  };
  process.on('uncaughtException', (err) => void fail(err));
  process.on('SIGINT', () => void fail(new Error('interrupted')));
  main().then(() => process.exit(0), fail);
}
