/**
 * The preview command of the `erasure` CLI:
 *   preview --catalog <file> [--email …] [--user-id …] [--phone …] [--custom key=value …] [--json] [--timeout <ms>]
 *
 * What erasing one subject would do, per system and per table / prefix / index, changing nothing: the first
 * thing to run on a new catalog. It reaches the systems with the catalog's own connections, as the worker
 * would, and prints counts only (identifiers, given or derived, are never printed). Exit code 0 when every
 * system was previewed, 1 when a system failed, 2 for input that cannot be used (identifiers, catalog).
 */
import type { Command } from 'commander';
import { CatalogError, loadCatalog } from '../catalog/load';
import type { Catalog } from '../catalog/schema';
import { withheldFromCatalog } from '../config';
import { previewErasure, type PreviewDeps, type PreviewProgress, type PreviewReport } from '../use-cases/preview';
import { UseCaseError } from '../use-cases/errors';
import { processIo, type CliIo } from './io';
import { subjectFromOptions, withSubjectOptions, type IdentifierOptions } from './subject-options';

export const PreviewExit = { ok: 0, systemFailed: 1, invalid: 2 } as const;

export interface PreviewOptions extends IdentifierOptions {
  catalog: string;
  json?: boolean;
  timeoutMs?: number;
  /** Tests: the connector factories (default: the registry's). */
  connectors?: PreviewDeps['connectors'];
  /** When a still-working system gets a progress line (default 2 s). */
  slowMs?: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function progressLine(e: PreviewProgress): string {
  if (e.state === 'slow') return `${e.system}: ${e.step} still running (${seconds(e.ms)})…`;
  return `${e.system}: ${e.step} ${e.state === 'done' ? 'done' : 'failed'} after ${seconds(e.ms)}`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const derivedText = (d: Record<string, number>) => Object.entries(d).map(([name, n]) => `${name} ${n}`).join(', ');

/**
 * The report as aligned text: per system a header line, then one line per target with its counts.
 * @example formatPreview(report).forEach((line) => io.out(line));
 */
export function formatPreview(report: PreviewReport): string[] {
  const lines: string[] = [];
  const targets = report.systems.flatMap((s) => s.entries.map((e) => e.target));
  const width = Math.max(6, ...targets.map((t) => t.length));
  const num = (n: number, label: string) => String(n).padStart(Math.max(label.length, 6));
  for (const s of report.systems) {
    if (s.status === 'failed') lines.push(`FAIL  ${s.id} (${s.kind}): ${s.error}`);
    else if (s.status === 'not_counted') lines.push(`--    ${s.id} (${s.kind}): ${s.note}`);
    else lines.push(`ok    ${s.id} (${s.kind}), ${s.ms} ms${s.note ? `: ${s.note}` : ''}`);
    if (s.entries.length) {
      lines.push(`      ${'target'.padEnd(width)}  ${'delete'.padStart(6)}  ${'anonymize'.padStart(9)}  ${'shared'.padStart(6)}`);
      for (const e of s.entries) lines.push(`      ${e.target.padEnd(width)}  ${num(e.delete, 'delete')}  ${num(e.anonymize, 'anonymize')}  ${num(e.shared, 'shared')}`);
    }
    if (Object.keys(s.derived).length) lines.push(`      derived: ${derivedText(s.derived)}`);
  }
  const t = report.totals;
  const derived = Object.keys(t.derived).length ? `; derived ${derivedText(t.derived)}` : '';
  lines.push(`total: ${t.delete} to delete, ${t.anonymize} to anonymize, ${t.shared} kept as shared${derived}; ${plural(t.systems, 'system')}, ${t.failed} failed`);
  return lines;
}

/** Runs `preview`; returns the exit code it set. */
export async function runPreview(opts: PreviewOptions, io: CliIo = processIo()): Promise<number> {
  const exit = (code: number) => {
    io.setExitCode(code);
    return code;
  };
  let catalog: Catalog;
  try {
    catalog = loadCatalog(opts.catalog, io.env, { withheld: withheldFromCatalog });
  } catch (err) {
    if (!(err instanceof CatalogError)) {
      io.err(`cannot read the catalog ${opts.catalog}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return exit(PreviewExit.invalid);
    }
    err.problems.forEach((p) => io.err(p));
    io.err(`${opts.catalog}: ${plural(err.problems.length, 'problem')}; nothing was contacted`);
    return exit(PreviewExit.invalid);
  }
  const given = subjectFromOptions(opts);
  if (given.problem !== undefined) {
    io.err(`invalid subject: ${given.problem}`);
    return exit(PreviewExit.invalid);
  }
  let report: PreviewReport;
  try {
    report = await previewErasure({ catalog, connectors: opts.connectors, timeoutMs: opts.timeoutMs, slowMs: opts.slowMs, progress: (e) => io.err(progressLine(e)) }, given.subject);
  } catch (err) {
    if (!(err instanceof UseCaseError) || err.kind !== 'invalid') throw err;
    io.err(`${err.message}; nothing was contacted`);
    return exit(PreviewExit.invalid);
  }
  if (opts.json) io.out(JSON.stringify(report, null, 2));
  else formatPreview(report).forEach((line) => io.out(line));
  if (!report.ok) {
    io.err(`${report.totals.failed} of ${plural(report.totals.systems, 'system')} could not be previewed; counts that depend on what they derive may be low`);
    return exit(PreviewExit.systemFailed);
  }
  return exit(PreviewExit.ok);
}

/** Adds `preview` to the program. */
export function registerPreviewCommand(program: Command, io: CliIo = processIo()): void {
  withSubjectOptions(
    program
      .command('preview')
      .description('show what erasing one subject would delete, anonymize, keep as shared and derive in every system; changes nothing')
      .requiredOption('--catalog <file>', 'catalog YAML (${VAR} references are read from the environment)'),
  )
    .option('--json', 'print the report as JSON')
    .option('--timeout <ms>', 'per-system time limit in milliseconds', (v) => parseInt(v, 10), 120_000)
    .action(async (options: IdentifierOptions & { catalog: string; json?: boolean; timeout: number }) => {
      await runPreview({ ...options, timeoutMs: options.timeout }, io);
    });
}
