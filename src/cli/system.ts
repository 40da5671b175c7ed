/**
 * The system commands of the `erasure` CLI: pause one automated system for every request (maintenance, a broken
 * connector) and resume it, through the engine API (src/api/system-routes.ts), so the actor is an API key:
 *   system list                         the catalog's systems, and which are paused (by whom, since when, why)
 *   system pause <system> --reason …    its erasures and verifications wait, without spending retries
 *   system resume <system>              every request waiting for it goes on at once
 *   system log [<system>]               the audit log of pauses and resumes, newest first
 * Address and key: `--api-url`/`--api-key` or `ERASURE_API_URL`/`ERASURE_API_KEY`. Exit code 0 when done
 * (also when the system already was in the asked state: the output says nothing changed), 2 for what the API
 * refused, with its message (unknown system, a system its owner confirms, a reason too short, a key without
 * the `pause` scope), 5 when the API did not answer.
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import type { pauseAnswerSchema, pauseLogSchema, systemsSchema } from '../api/system-routes';
import { ApiExit, apiAction, callApi, withApiOptions, type ApiOptions } from './api-client';
import { processIo, type CliIo } from './io';

// The answers' shapes are the API's own schemas (src/api/system-routes.ts), not a second copy of them.
type SystemsAnswer = z.output<typeof systemsSchema>;
type SystemView = SystemsAnswer['systems'][number];
type PauseView = NonNullable<SystemView['paused']>;
type PauseAnswer = z.output<typeof pauseAnswerSchema>;
type LogEntry = z.output<typeof pauseLogSchema>['entries'][number];

/** `2026-12-02T04:50:12.345Z` → `2026-12-02 04:50:12 UTC`. */
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
const waiting = (n: number) => `${n} running request${n === 1 ? '' : 's'} waiting for it ${n === 1 ? 'was' : 'were'}`;
const pauseText = (p: PauseView) => `paused since ${when(p.pausedAt)} by "${p.pausedBy}": ${p.reason}`;

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}

async function list(io: CliIo, o: ApiOptions & { json?: boolean }): Promise<number> {
  const { json } = await callApi(io, o, 'GET', '/systems');
  const systems = json.systems as SystemView[];
  if (o.json) {
    io.out(JSON.stringify(systems, null, 2));
    return ApiExit.ok;
  }
  if (systems.length === 0) {
    io.out('the catalog lists no system');
    return ApiExit.ok;
  }
  const state = (s: SystemView) => (s.paused ? pauseText(s.paused) : s.mode === 'automated' ? 'running' : 'confirmed by its owner (cannot be paused)');
  for (const line of table([['SYSTEM', 'KIND', 'MODE', 'STATE'], ...systems.map((s) => [s.id, s.kind, s.mode, state(s)])])) io.out(line);
  const paused = systems.filter((s) => s.paused).length;
  io.out(`${systems.length} system${systems.length === 1 ? '' : 's'}, ${paused} paused`);
  return ApiExit.ok;
}

const systemPath = (system: string, verb: 'pause' | 'resume') => `/systems/${encodeURIComponent(system)}/${verb}`;

async function pause(io: CliIo, system: string, o: ApiOptions & { reason: string }): Promise<number> {
  const { json } = await callApi(io, o, 'POST', systemPath(system, 'pause'), { reason: o.reason });
  const a = json as PauseAnswer;
  if (!a.changed) {
    io.out(`${a.system} was already ${a.pause ? pauseText(a.pause) : 'paused'}; nothing changed`);
    return ApiExit.ok;
  }
  io.out(`${a.system} ${a.pause ? pauseText(a.pause) : 'paused'}`);
  io.out(
    a.notified > 0
      ? `${waiting(a.notified)} told at once (Temporal batch ${a.batchJobId}); an erase in flight stops after its current batch`
      : 'no running request was told (none waited for it, or Temporal did not answer); each waits at its next attempt',
  );
  io.out(`resume with: erasure system resume ${a.system}`);
  return ApiExit.ok;
}

async function resume(io: CliIo, system: string, o: ApiOptions): Promise<number> {
  const { json } = await callApi(io, o, 'POST', systemPath(system, 'resume'), {});
  const a = json as PauseAnswer;
  if (!a.changed) {
    io.out(`${a.system} was not paused; nothing changed`);
    return ApiExit.ok;
  }
  io.out(`${a.system} resumed (it was ${a.pause ? pauseText(a.pause) : 'paused'})`);
  io.out(
    a.notified > 0
      ? `${waiting(a.notified)} told to go on (Temporal batch ${a.batchJobId})`
      : 'no running request was told (none waited for it, or Temporal did not answer); waiting lanes look again within the hour',
  );
  return ApiExit.ok;
}

async function log(io: CliIo, system: string | undefined, o: ApiOptions & { json?: boolean }): Promise<number> {
  const { json } = await callApi(io, o, 'GET', `/systems/pauses${system ? `?system=${encodeURIComponent(system)}` : ''}`);
  const entries = json.entries as LogEntry[];
  if (o.json) {
    io.out(JSON.stringify(entries, null, 2));
    return ApiExit.ok;
  }
  if (entries.length === 0) {
    io.out(system ? `${system} was never paused` : 'no system was ever paused');
    return ApiExit.ok;
  }
  const told = (n: number | null) => (n === null ? 'not recorded' : String(n));
  const rows = entries.map((e) => [when(e.at), e.systemId, e.action, e.actor, told(e.notified), e.reason ?? '']);
  for (const line of table([['AT', 'SYSTEM', 'ACTION', 'BY', 'TOLD', 'REASON'], ...rows])) io.out(line);
  return ApiExit.ok;
}

/**
 * Adds `system list|pause|resume|log` to the program.
 * @example registerSystemCommands(program, processIo());
 */
export function registerSystemCommands(program: Command, io: CliIo = processIo()): void {
  const system = program.command('system').description('pause and resume one system for every request (through the API)');
  const act = <A extends unknown[]>(body: (...args: A) => Promise<number>) => apiAction(io, 'erasure system', body);
  withApiOptions(system.command('list').description("the catalog's systems, and which are paused (by whom, since when, why)"))
    .option('--json', 'print the API answer as JSON')
    .action(act((o: ApiOptions & { json?: boolean }) => list(io, o)));
  withApiOptions(
    system
      .command('pause')
      .description('pause an automated system for every request: its erasures and verifications wait, without spending retries, until resumed')
      .argument('<system>', 'the system id from the catalog')
      .requiredOption('--reason <text>', 'why, and until when (3 to 200 characters; kept in the audit log; no personal data)'),
  ).action(act((id: string, o: ApiOptions & { reason: string }) => pause(io, id, o)));
  withApiOptions(system.command('resume').description('resume a paused system: every request waiting for it goes on at once').argument('<system>', 'the system id from the catalog')).action(
    act((id: string, o: ApiOptions) => resume(io, id, o)),
  );
  withApiOptions(system.command('log').description('the audit log of pauses and resumes (who, when, why, how many requests were told), newest first').argument('[system]', 'only this system'))
    .option('--json', 'print the API answer as JSON')
    .action(act((id: string | undefined, o: ApiOptions & { json?: boolean }) => log(io, id, o)));
}
