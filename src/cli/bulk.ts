/**
 * The bulk commands of the `erasure` CLI: one operator action for many requests, through the engine API
 * (`POST /bulk/{action}`), which sends it as one Temporal batch signal and records it per request.
 *   bulk confirm --system <id> [--confirmed-by …] [--reference …] [--note …]  <selection> [--dry-run] [--no-wait]
 *   bulk retry   --system <id>                                              <selection> [--dry-run] [--no-wait]
 *   bulk extend  --days <n> --reason <text>                                 <selection> [--dry-run] [--no-wait]
 *   bulk status  <batchId> [--wait]
 * where <selection> is any of --query <visibility query>, --status <status>, --pending-system <id>,
 * --jurisdiction <GDPR|CCPA>, --requests <file> (request ids, one a line), all AND-ed.
 *
 * It goes to the API rather than to Temporal so that the actor is an API key, checked and named like every
 * action sent through the API (`ERASURE_API_URL`, `ERASURE_API_KEY`, or `--api-url`, `--api-key`). Exit code
 * 0 when the batch completed with every signal delivered (or the dry run answered), 1 when the batch failed or
 * some signals were not delivered, 2 for input the API refused (bad selection or payload, Temporal's parse
 * error of the query, a key without the scope, nothing reached), 5 when the API or Temporal did not answer.
 */
import fs from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { erasureStatuses, jurisdictions } from '../domain';
import { ApiExit, ApiFailure, apiAction, callApi, withApiOptions, type ApiOptions } from './api-client';
import { processIo, type CliIo } from './io';

/** The bulk commands' exit codes (those of every API command, src/cli/api-client.ts). */
export const BulkExit = ApiExit;
/** Most request ids a `--requests` file may list (the API's own limit). */
const MAX_LISTED = 10_000;
const requestIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

interface SelectionOptions {
  query?: string;
  status?: string;
  pendingSystem?: string;
  jurisdiction?: string;
  requests?: string;
}

interface RunOptions extends ApiOptions, SelectionOptions {
  dryRun?: boolean;
  wait: boolean;
  /** Milliseconds between two progress reads (tests shorten it). */
  interval?: string;
}

/**
 * Reads a ticket's list of request ids: one a line; blank lines and `#` comments are skipped. Every line
 * must be a request id; the first bad ones are named by line number.
 * @example const ids = await readRequestIds('ticket-123.txt');
 */
export async function readRequestIds(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ApiFailure(BulkExit.refused, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const ids: string[] = [];
  const bad: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    if (requestIdPattern.test(line)) ids.push(line);
    else bad.push(i + 1);
  });
  if (bad.length) throw new ApiFailure(BulkExit.refused, `${file}: line${bad.length > 1 ? 's' : ''} ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', …' : ''} not a request id (letters, digits, ".", "_", "-")`);
  if (ids.length === 0) throw new ApiFailure(BulkExit.refused, `${file} lists no request id`);
  if (ids.length > MAX_LISTED) throw new ApiFailure(BulkExit.refused, `${file} lists ${ids.length} request ids; at most ${MAX_LISTED} per bulk action`);
  return [...new Set(ids)];
}

async function selectionOf(o: SelectionOptions): Promise<Record<string, unknown>> {
  const selection: Record<string, unknown> = {};
  if (o.query !== undefined) selection.query = o.query;
  if (o.status !== undefined) selection.status = o.status;
  if (o.pendingSystem !== undefined) selection.pendingSystem = o.pendingSystem;
  if (o.jurisdiction !== undefined) selection.jurisdiction = o.jurisdiction;
  if (o.requests !== undefined) selection.requests = await readRequestIds(o.requests);
  if (Object.keys(selection).length === 0) {
    throw new ApiFailure(BulkExit.refused, 'choose the requests: --requests FILE, --query, --status, --pending-system or --jurisdiction');
  }
  return selection;
}

const sampleText = (count: number, sample: string[]) => (sample.length ? `${sample.join(', ')}${count > sample.length ? `, … (${count - sample.length} more)` : ''}` : '');

function printMatch(io: CliIo, m: { count: number; sample: string[]; unmatched?: { count: number; sample: string[] } }, verb: string): void {
  io.out(`${m.count} open request${m.count === 1 ? '' : 's'} ${verb}${m.count ? `: ${sampleText(m.count, m.sample)}` : ''}`);
  if (m.unmatched?.count) io.out(`${m.unmatched.count} listed not reached (unknown, closed or queued): ${sampleText(m.unmatched.count, m.unmatched.sample)}`);
}

interface BatchView {
  batchId: string;
  state: string;
  count: number;
  signalled: { total: number; completed: number; failed: number };
  recorded: { accepted: number; refused: number };
  startError?: string;
}

const progressLine = (b: BatchView) =>
  `${b.batchId}: ${b.state}, ${b.signalled.completed}/${b.signalled.total || b.count} signalled, ${b.signalled.failed} not delivered; recorded ${b.recorded.accepted} accepted, ${b.recorded.refused} refused`;

/** How long, once Temporal is done, the command waits for the requests' trails to record every delivered signal. */
const SETTLE_MS = 30_000;

/**
 * Follows a batch until Temporal says it is done, printing a line whenever its counts move, then a little
 * longer, until every delivered signal is recorded on its request (workflows write their trails in batches).
 */
async function follow(io: CliIo, o: ApiOptions & { interval?: string }, batchId: string): Promise<number> {
  const every = Math.max(100, Number(o.interval ?? 1000) || 1000);
  let last = '';
  let doneAt: number | undefined;
  for (;;) {
    let json;
    try {
      ({ json } = await callApi(io, o, 'GET', `/bulk/batches/${encodeURIComponent(batchId)}`));
    } catch (err) {
      // A key narrowed to its action (confirm@crm) may start a batch without being allowed to read it.
      if (!(err instanceof ApiFailure) || !err.message.startsWith('403:')) throw err;
      io.err(`the batch is started, but this key cannot follow it (${err.message}); erasure bulk status ${batchId} with a key holding the read scope does`);
      return BulkExit.ok;
    }
    const b = json as BatchView;
    const line = progressLine(b);
    if (line !== last) io.out(line);
    last = line;
    if (b.state === 'not_started') {
      io.err(`the batch was not started: ${b.startError ?? 'Temporal refused it'}`);
      return BulkExit.failed;
    }
    if (b.state === 'completed' || b.state === 'failed') {
      doneAt ??= Date.now();
      const settled = b.recorded.accepted + b.recorded.refused >= b.signalled.completed;
      if (settled || Date.now() - doneAt > SETTLE_MS) {
        if (!settled) io.out(`not every request has recorded the action yet; erasure bulk status ${batchId} shows the counts later`);
        return b.state === 'failed' || b.signalled.failed > 0 ? BulkExit.failed : BulkExit.ok;
      }
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

async function runBulk(io: CliIo, action: 'confirm' | 'retry' | 'extend', payload: Record<string, unknown>, o: RunOptions): Promise<number> {
  const selection = await selectionOf(o);
  if (o.dryRun) {
    const { json } = await callApi(io, o, 'POST', `/bulk/${action}`, { selection, payload, dryRun: true });
    printMatch(io, json, 'would be reached; nothing sent (dry run)');
    return BulkExit.ok;
  }
  const { json } = await callApi(io, o, 'POST', `/bulk/${action}`, { selection, payload });
  printMatch(io, json, 'reached');
  io.out(`batch ${json.batchId} started`);
  if (!o.wait) return BulkExit.ok;
  return follow(io, o, json.batchId as string);
}

function withCommon(cmd: Command): Command {
  return withApiOptions(cmd)
    .option('--query <query>', "a Temporal visibility query (AND-ed with WorkflowType = 'erasureWorkflow' AND ExecutionStatus = 'Running')")
    .addOption(new Option('--status <status>', 'ErasureStatus').choices([...erasureStatuses]))
    .option('--pending-system <id>', 'a system in ErasurePendingSystems')
    .addOption(new Option('--jurisdiction <jurisdiction>', 'ErasureJurisdiction').choices([...jurisdictions]))
    .option('--requests <file>', 'request ids, one a line (a ticket\'s list)')
    .option('--dry-run', 'count the requests reached and show the first ids; send nothing')
    .option('--no-wait', 'return once the batch is started')
    .addOption(new Option('--interval <ms>', 'between two progress reads').default('1000').hideHelp());
}

/** Runs a command body, turning its failure into a message and an exit code. */
const action = <A extends unknown[]>(io: CliIo, body: (...args: A) => Promise<number>) => apiAction(io, 'erasure bulk', body);

/**
 * Adds `bulk confirm|retry|extend|status` to the program.
 * @example registerBulkCommands(program, processIo());
 */
export function registerBulkCommands(program: Command, io: CliIo = processIo()): void {
  const bulk = program.command('bulk').description('one operator action for many requests (through the API, as one Temporal batch signal)');
  withCommon(
    bulk
      .command('confirm')
      .description('confirm a manual or webhook system erased, for every request selected')
      .requiredOption('--system <id>', 'the system to confirm')
      .option('--confirmed-by <who>', 'a note of who confirmed (default: the API key name)')
      .option('--reference <ref>', 'a ticket or reference')
      .option('--note <text>', 'a note'),
  ).action(
    action(io, (o: RunOptions & { system: string; confirmedBy?: string; reference?: string; note?: string }) =>
      runBulk(io, 'confirm', { system: o.system, ...(o.confirmedBy ? { confirmedBy: o.confirmedBy } : {}), ...(o.reference ? { reference: o.reference } : {}), ...(o.note ? { note: o.note } : {}) }, o),
    ),
  );
  withCommon(bulk.command('retry').description('retry a system (after fixing it), for every request selected').requiredOption('--system <id>', 'the system to retry')).action(
    action(io, (o: RunOptions & { system: string }) => runBulk(io, 'retry', { system: o.system }, o)),
  );
  withCommon(
    bulk
      .command('extend')
      .description('extend the deadline (once per request, within its jurisdiction limit), for every request selected')
      .requiredOption('--days <n>', 'days to add')
      .requiredOption('--reason <text>', 'why (GDPR Art. 12(3))'),
  ).action(
    action(io, (o: RunOptions & { days: string; reason: string }) => {
      const days = Number(o.days);
      if (!Number.isInteger(days) || days <= 0) throw new ApiFailure(BulkExit.refused, '--days must be a positive whole number');
      return runBulk(io, 'extend', { days, reason: o.reason }, o);
    }),
  );
  withApiOptions(bulk.command('status').description("a batch's progress and the outcomes recorded so far").argument('<batchId>', 'the batch id a bulk command printed'))
    .option('--wait', 'follow it until Temporal is done')
    .addOption(new Option('--interval <ms>', 'between two progress reads').default('1000').hideHelp())
    .action(
      action(io, async (batchId: string, o: ApiOptions & { wait?: boolean; interval?: string }) => {
        if (o.wait) return follow(io, o, batchId);
        const { json } = await callApi(io, o, 'GET', `/bulk/batches/${encodeURIComponent(batchId)}`);
        io.out(progressLine(json as BatchView));
        return BulkExit.ok;
      }),
    );
}
