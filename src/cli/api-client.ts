/**
 * How the commands of the `erasure` CLI that act through the engine API (`bulk`, `system`) reach it: the
 * address and key from `--api-url`/`--api-key` or `ERASURE_API_URL`/`ERASURE_API_KEY`, one JSON call, and the
 * exit code each kind of failure means. Acting through the API, rather than on Temporal or the ledger
 * directly, makes the actor an API key, checked and named like every action sent through the API.
 */
import type { Command } from 'commander';
import { ConfigError, loadCliConfig } from '../config';
import type { CliIo } from './io';

/** The exit codes of the API commands: 0 done, 1 done but failed, 2 refused or bad input, 5 no answer. */
export const ApiExit = { ok: 0, failed: 1, refused: 2, unavailable: 5 } as const;

/** Where the API is when neither `--api-url` nor `ERASURE_API_URL` says. */
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/**
 * A command that cannot go on: its message for stderr and its exit code.
 * @example throw new ApiFailure(ApiExit.refused, '--days must be a positive whole number');
 */
export class ApiFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** The options every API command takes. */
export interface ApiOptions {
  apiUrl?: string;
  apiKey?: string;
}

/** What the API answered with a 2xx status. */
export interface ApiAnswer {
  status: number;
  json: any;
}

/**
 * Adds `--api-url` and `--api-key` to a command.
 * @example withApiOptions(program.command('list')).action(…);
 */
export function withApiOptions(cmd: Command): Command {
  return cmd
    .option('--api-url <url>', `the engine API (default $ERASURE_API_URL, else ${DEFAULT_API_URL})`)
    .option('--api-key <key>', 'the API key to act with (default $ERASURE_API_KEY)');
}

/** The problem's detail and, for a refused body, each field's message. */
function problemText(res: Response, text: string, json: any): string {
  const detail = json?.detail ?? (text.slice(0, 200) || res.statusText);
  const fields = Array.isArray(json?.errors) ? ` (${json.errors.map((e: { path: string; message: string }) => `${e.path}: ${e.message}`).join('; ')})` : '';
  return `${res.status}: ${detail}${fields}`;
}

/**
 * Calls the API and resolves to its 2xx answer; anything else is an {@link ApiFailure}: exit 2 with the
 * API's message for a refusal (4xx) or a missing key or bad setting, exit 5 when the API did not answer,
 * answered 429 or 5xx.
 * @example const { json } = await callApi(io, { apiKey }, 'POST', '/systems/crm/pause', { reason: 'upgrade' });
 */
export async function callApi(io: CliIo, o: ApiOptions, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  let settings;
  try {
    settings = loadCliConfig(io.env, ['ERASURE_API_URL', 'ERASURE_API_KEY']);
  } catch (err) {
    if (err instanceof ConfigError) throw new ApiFailure(ApiExit.refused, err.message);
    throw err;
  }
  const base = (o.apiUrl ?? settings.ERASURE_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const key = o.apiKey ?? settings.ERASURE_API_KEY;
  if (!key) throw new ApiFailure(ApiExit.refused, 'an API key is required: --api-key or ERASURE_API_KEY');
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    throw new ApiFailure(ApiExit.unavailable, `cannot reach the API at ${base}: ${cause ? cause.message : (err as Error).message}`);
  }
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.ok) return { status: res.status, json };
  const code = res.status === 429 || res.status >= 500 ? ApiExit.unavailable : ApiExit.refused;
  throw new ApiFailure(code, problemText(res, text, json));
}

/**
 * Wraps a command body: its resolved number is the exit code; an {@link ApiFailure} is printed after
 * `prefix` (e.g. `erasure bulk`) with its own code. Anything else is a bug and propagates.
 * @example cmd.action(apiAction(io, 'erasure system', async () => ApiExit.ok));
 */
export function apiAction<A extends unknown[]>(io: CliIo, prefix: string, body: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      io.setExitCode(await body(...args));
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      io.err(`${prefix}: ${err.message}`);
      io.setExitCode(err.code);
    }
  };
}
