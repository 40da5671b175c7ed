/**
 * The exact commands that confirm a system for a request, written once: the Web UI's details, the status
 * view and the notifications to a system's owner all print these. Pure (the workflow imports it).
 */
import { workflowIdFor } from './ids';

/** The three ways to confirm: the Temporal CLI, tctl, and the engine's HTTP API. */
export interface ConfirmCommands {
  temporal: string;
  tctl: string;
  http: string;
}

/** Single-quotes `s` for a POSIX shell. */
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The commands an owner runs once they have erased the subject from `system`. `confirmedBy` is left as a
 * placeholder for the person's name; `apiUrl` defaults to `$ERASURE_API_URL` and the key to `$ERASURE_API_KEY`.
 * @example confirmCommands('req-1', 'legacy-billing').temporal
 * // temporal workflow signal --workflow-id erasure-req-1 --name confirmDeletion --input '{"system":"legacy-billing","confirmedBy":"<your name>"}'
 */
export function confirmCommands(requestId: string, system: string, opts: { apiUrl?: string; confirmedBy?: string } = {}): ConfirmCommands {
  const workflowId = workflowIdFor(requestId);
  const payload = shellQuote(JSON.stringify({ system, confirmedBy: opts.confirmedBy ?? '<your name>' }));
  const api = opts.apiUrl ? opts.apiUrl.replace(/\/+$/, '') : '$ERASURE_API_URL';
  return {
    temporal: `temporal workflow signal --workflow-id ${workflowId} --name confirmDeletion --input ${payload}`,
    tctl: `tctl workflow signal --workflow_id ${workflowId} --name confirmDeletion --input ${payload}`,
    http: `curl -X POST "${api}/erasures/${encodeURIComponent(requestId)}/confirmations" -H "x-api-key: $ERASURE_API_KEY" -H 'content-type: application/json' -d ${payload}`,
  };
}
