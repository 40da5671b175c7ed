/**
 * Previewing an erasure: what erasing one subject would delete, anonymize, keep as shared and derive, per
 * system and per table / prefix / index, changing nothing. The API (`POST /erasures/preview`) and the CLI
 * (`erasure preview`) both call it, each with its own catalog.
 *
 * The steps follow the erasure's own: systems that `provide` identifiers are asked first (`identify`), what
 * they found is added for the names the subject lacks, then every system previews with it. The report holds
 * counts only: identifier values, the request's own or derived, never leave this module, and a failing
 * system's message is scrubbed of them before it is reported.
 */
import type { Catalog } from '../catalog/schema';
import {
  formatIssues,
  identifierPairs,
  identifierValue,
  keepProvided,
  subjectIdentifiersSchema,
  type DerivedIdentifiers,
  type PreviewEntry,
  type SubjectIdentifiers,
  type SystemPlan,
  type SystemTask,
} from '../domain';
import type { Connector } from '../systems/connector-kit';
import { defaultConnectors, hasConnector, systemPlan, type ConnectorFactory, type SystemConfig, type SystemKind } from '../systems/registry';
import { UseCaseError } from './errors';

export interface PreviewDeps {
  catalog: Catalog;
  /** Connector factories per kind (default: the registry's); a map given here replaces it whole. */
  connectors?: Partial<Record<SystemKind, ConnectorFactory>>;
  /** Longest wait for one system's identify or preview, in ms (default 120 s). */
  timeoutMs?: number;
  /** A system still working after this long is reported as slow through `progress` (default 2 s). */
  slowMs?: number;
  /** Told when a system is slow and when a slow system finished; for progress lines. */
  progress?(event: PreviewProgress): void;
}

export interface PreviewProgress {
  system: string;
  step: 'identify' | 'preview';
  state: 'slow' | 'done' | 'failed';
  ms: number;
}

/** One system's part of the report. */
export interface SystemPreviewReport {
  id: string;
  kind: SystemKind;
  /** `previewed`: counted; `not_counted`: the kind cannot count (a person or a webhook erases), see `note`; `failed`: see `error`. */
  status: 'previewed' | 'not_counted' | 'failed';
  entries: PreviewEntry[];
  /** How many values this system found per derived identifier name (never the values). */
  derived: Record<string, number>;
  note?: string;
  /** Why the system could not be previewed (unreachable, misconfigured); never holds an identifier value. */
  error?: string;
  ms: number;
}

export interface PreviewTotals {
  delete: number;
  anonymize: number;
  shared: number;
  /** Distinct values per derived identifier name, over every system. */
  derived: Record<string, number>;
  systems: number;
  failed: number;
}

export interface PreviewReport {
  /** True when no system failed. */
  ok: boolean;
  systems: SystemPreviewReport[];
  totals: PreviewTotals;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_SLOW_MS = 2_000;
/** Closing counts against its own short limit: a server that stopped answering can hang a pool's end. */
const CLOSE_WITHIN_MS = 5_000;

/** One catalog system while the preview runs. */
interface Previewed {
  plan: SystemPlan;
  connector?: Connector;
  report: SystemPreviewReport;
}

/**
 * Previews erasing `input` (subject identifiers, validated and normalised as the intake does) from every
 * system of the catalog. A system that fails is reported with its error and the others still report.
 * Throws `UseCaseError('invalid')` for identifiers the intake would refuse.
 * @example const report = await previewErasure({ catalog }, { email: 'jane@example.com' }); report.totals.delete
 */
export async function previewErasure(deps: PreviewDeps, input: unknown): Promise<PreviewReport> {
  const parsed = subjectIdentifiersSchema.safeParse(input);
  if (!parsed.success) throw new UseCaseError('invalid', `invalid subject: ${formatIssues(parsed.error, { root: 'subject' })}`);
  const subject = parsed.data;
  const derived: DerivedIdentifiers = {};
  const scrub = (message: string) => redact(message, [...identifierPairs(subject).map(([, v]) => v), ...Object.values(derived).flat()]);
  const systems = deps.catalog.systems.map((config) => open(config, deps.connectors ?? defaultConnectors));
  const run = <T>(s: Previewed, step: PreviewProgress['step'], call: (task: SystemTask) => Promise<T>) =>
    timed(s, step, () => call({ requestId: 'preview', subjectRef: 'preview', subject, system: s.plan, derived: copy(derived) }), deps);
  try {
    // Providers one after another, in catalog order: each gets what the ones before it found.
    for (const s of systems) {
      // As the erasure does: a provider is asked only for names the request lacks.
      const missing = (s.plan.provides ?? []).filter((name) => identifierValue(subject, name) === undefined);
      if (s.report.error || !s.connector || missing.length === 0) continue;
      if (!s.connector.identify) {
        fail(s, new Error(`system "${s.report.id}" is planned to provide ${missing.join(', ')}, but its connector cannot identify`));
        continue;
      }
      try {
        const found = await run(s, 'identify', (task) => s.connector!.identify!(task));
        const { counts, dropped } = merge(derived, subject, s.plan, found);
        s.report.derived = counts;
        if (dropped > 0) s.report.note = `${dropped} of the values found are not valid identifiers: the erasure ignores them too`;
      } catch (err) {
        fail(s, err);
      }
    }
    await Promise.all(
      systems.map(async (s) => {
        if (s.report.error || !s.connector?.preview) return;
        try {
          const preview = await run(s, 'preview', (task) => s.connector!.preview!(task));
          s.report.entries = preview.entries.map(({ target, delete: d, anonymize, shared }) => ({ target, delete: d, anonymize, shared }));
          // What identify found (normalised, as the erasure keeps it) wins over the preview's own count.
          s.report.derived = { ...lacking(subject, preview.derived ?? {}), ...s.report.derived };
          s.report.status = 'previewed';
          if (preview.note) s.report.note = s.report.note ? `${s.report.note}; ${preview.note}` : preview.note;
        } catch (err) {
          fail(s, err);
        }
      }),
    );
  } finally {
    await Promise.all(systems.map((s) => (s.connector?.close ? settleWithin(s.connector.close(), CLOSE_WITHIN_MS) : undefined)));
  }
  for (const s of systems) if (s.report.error) s.report.error = scrub(s.report.error);
  const reports = systems.map((s) => s.report);
  return { ok: reports.every((r) => r.status !== 'failed'), systems: reports, totals: totalsOf(reports, derived) };
}

/** The plan and connector of one system, or its report saying why it has none. */
function open(config: SystemConfig, factories: Partial<Record<SystemKind, ConnectorFactory>>): Previewed {
  const plan = systemPlan(config);
  const report: SystemPreviewReport = { id: config.id, kind: config.kind, status: 'not_counted', entries: [], derived: {}, ms: 0 };
  const s: Previewed = { plan, report };
  const factory = factories[config.kind];
  if (!hasConnector(config.kind)) {
    const owner = typeof plan.spec.owner === 'string' ? ` (owner ${plan.spec.owner})` : '';
    report.note = `erased by a person${owner}, who confirms it: nothing to count`;
  } else if (!factory) {
    fail(s, new Error(`no connector for kind "${config.kind}"`));
  } else {
    try {
      s.connector = factory(config);
      if (!s.connector.preview) report.note = `the ${config.kind} connector cannot preview: nothing counted`;
    } catch (err) {
      fail(s, err);
    }
  }
  return s;
}

function fail(s: Previewed, err: unknown): void {
  s.report.status = 'failed';
  s.report.error = err instanceof Error ? err.message : `failed (${typeof err})`;
}

/** Runs one step within the time limit, timing it and telling `progress` when it is slow. */
async function timed<T>(s: Previewed, step: PreviewProgress['step'], call: () => Promise<T>, deps: PreviewDeps): Promise<T> {
  const started = Date.now();
  const limit = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let slow = false;
  const timers: NodeJS.Timeout[] = [];
  const tell = (state: PreviewProgress['state']) => deps.progress?.({ system: s.report.id, step, state, ms: Date.now() - started });
  timers.push(setTimeout(() => ((slow = true), tell('slow')), deps.slowMs ?? DEFAULT_SLOW_MS).unref());
  try {
    const result = await Promise.race([
      call(),
      new Promise<never>((_, reject) => timers.push(setTimeout(() => reject(new Error(`system "${s.report.id}": no answer within ${limit} ms`)), limit).unref())),
    ]);
    if (slow) tell('done');
    return result;
  } catch (err) {
    if (slow) tell('failed');
    throw err;
  } finally {
    timers.forEach(clearTimeout);
    s.report.ms += Date.now() - started;
  }
}

/** Waits for `p` at most `ms`; its failure is ignored (a close that fails changes nothing in a preview). */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()))]);
  clearTimeout(timer);
}

/** The names of `found` the subject lacks, with their values' count. */
function lacking(subject: SubjectIdentifiers, found: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(found).filter(([name]) => identifierValue(subject, name) === undefined));
}

/**
 * Adds what one provider found to `derived` as the erasure would: only the names its plan provides and the
 * subject lacks, values normalised like a request's own (one a request could not carry is dropped), each
 * name's values the union of every provider's. Returns the provider's count per name, and how many it dropped.
 */
function merge(derived: DerivedIdentifiers, subject: SubjectIdentifiers, plan: SystemPlan, found: DerivedIdentifiers): { counts: Record<string, number>; dropped: number } {
  const lacks = (plan.provides ?? []).filter((name) => identifierValue(subject, name) === undefined);
  const kept = keepProvided(lacks, found);
  const counts = Object.fromEntries(lacks.map((name) => [name, kept.derived[name]?.length ?? 0]));
  for (const [name, values] of Object.entries(kept.derived)) derived[name] = [...new Set([...(derived[name] ?? []), ...values])];
  return { counts, dropped: kept.dropped };
}

const copy = (derived: DerivedIdentifiers): DerivedIdentifiers => Object.fromEntries(Object.entries(derived).map(([k, v]) => [k, [...v]]));

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `message` with every whole occurrence of a value replaced, case-insensitively: a driver's error can quote
 * the value it choked on. Whole occurrences only, so a short user id does not shred a port number.
 */
function redact(message: string, values: string[]): string {
  const sorted = [...new Set(values.filter(Boolean))].sort((a, b) => b.length - a.length);
  return sorted.reduce((m, v) => m.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(v)}(?![A-Za-z0-9])`, 'gi'), '[redacted]'), message);
}

function totalsOf(reports: SystemPreviewReport[], derived: DerivedIdentifiers): PreviewTotals {
  const entries = reports.flatMap((r) => r.entries);
  const sum = (key: 'delete' | 'anonymize' | 'shared') => entries.reduce((n, e) => n + e[key], 0);
  return {
    delete: sum('delete'),
    anonymize: sum('anonymize'),
    shared: sum('shared'),
    derived: Object.fromEntries(Object.entries(derived).map(([name, values]) => [name, values.length])),
    systems: reports.length,
    failed: reports.filter((r) => r.status === 'failed').length,
  };
}
