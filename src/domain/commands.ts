/**
 * The exact commands a notification or the Web UI asks its reader to run: the same action three ways, with the
 * Temporal CLI, with the legacy `tctl`, and over the engine's HTTP API. Pure (the workflow's current details
 * import it too): the worker fills in where Temporal and the API are (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 * `ENGINE_PUBLIC_URL`); the workflow, which does not know, leaves out `--address` and writes `$ERASURE_API_URL`.
 */
import { workflowIdFor } from './ids';
import type { OperatorActionName } from './operator-actions';

/** The signals the commands send (as src/workflows/definitions.ts defines them). */
const signals = { confirm: 'confirmDeletion', consumer: 'consumerCompleted', retry: 'retrySystem' } as const satisfies Record<string, OperatorActionName>;

/** Where the commands point. */
export interface CommandContext {
  /** Temporal frontend, `host:port`; left out of the commands when unknown (the CLIs' own default then). */
  temporalAddress?: string;
  namespace: string;
  /** The API's base URL as operators reach it; `$ERASURE_API_URL` when unknown. */
  publicUrl?: string;
}

/** One action, written for each tool. */
export interface ActionCommands {
  /** What the commands do, in a few words ("confirm legacy-billing erased"). */
  what: string;
  temporal: string;
  tctl: string;
  curl: string;
}

/**
 * Quotes a word for a POSIX shell: single quotes, with any single quote inside closed, escaped and reopened.
 * @example shellQuote(`it's`) // `'it'\''s'`
 */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A word as the shell needs it: bare when it is plain (`erasure-req-1`, `127.0.0.1:7233`), quoted otherwise. */
const word = (s: string) => (/^[A-Za-z0-9._:@\/-]+$/.test(s) ? s : shellQuote(s));

function build(ctx: CommandContext, requestId: string, what: string, signal: string, payload: Record<string, unknown>, http: { path: string; body: Record<string, unknown> }): ActionCommands {
  const workflowId = workflowIdFor(requestId);
  const input = shellQuote(JSON.stringify(payload));
  const ns = ctx.namespace === 'default' ? '' : ` --namespace ${word(ctx.namespace)}`;
  const address = ctx.temporalAddress === undefined ? '' : ` --address ${word(ctx.temporalAddress)}`;
  // Without a known URL the variable must expand, so the URL is double-quoted (the path holds no `$` or `"`).
  const url = ctx.publicUrl === undefined ? `"$ERASURE_API_URL${http.path}"` : shellQuote(`${ctx.publicUrl.replace(/\/+$/, '')}${http.path}`);
  return {
    what,
    temporal: `temporal workflow signal${address}${ns} --workflow-id ${word(workflowId)} --name ${signal} --input ${input}`,
    tctl: `tctl${address}${ns} workflow signal -w ${word(workflowId)} -n ${signal} -i ${input}`,
    curl: `curl -s -X POST ${url} -H "authorization: Bearer $ERASURE_API_KEY" -H 'content-type: application/json' -d ${shellQuote(JSON.stringify(http.body))}`,
  };
}

const seg = encodeURIComponent;

/**
 * Confirming that a manual (or signal-mode webhook) system has erased the subject.
 * @example confirmCommands(ctx, 'req-1', 'legacy-billing', 'billing-team').temporal
 */
export function confirmCommands(ctx: CommandContext, requestId: string, systemId: string, confirmedBy: string): ActionCommands {
  const payload = { system: systemId, confirmedBy };
  return build(ctx, requestId, `confirm ${systemId} erased`, signals.confirm, payload, { path: `/erasures/${seg(requestId)}/confirmations`, body: payload });
}

/**
 * Reporting that a consumer has finished with the subject's data.
 * @example consumerCommands(ctx, 'req-1', 'analytics').curl
 */
export function consumerCommands(ctx: CommandContext, requestId: string, consumerId: string): ActionCommands {
  return build(ctx, requestId, `report consumer ${consumerId} done`, signals.consumer, { consumer: consumerId, status: 'ok' }, {
    path: `/erasures/${seg(requestId)}/consumers/${seg(consumerId)}/complete`,
    body: { status: 'ok' },
  });
}

/**
 * Retrying a system in `needs_attention` once its cause is fixed.
 * @example retryCommands(ctx, 'req-1', 'customers-db').tctl
 */
export function retryCommands(ctx: CommandContext, requestId: string, systemId: string): ActionCommands {
  return build(ctx, requestId, `retry ${systemId} after fixing it`, signals.retry, { system: systemId }, { path: `/erasures/${seg(requestId)}/systems/${seg(systemId)}/retry`, body: {} });
}
