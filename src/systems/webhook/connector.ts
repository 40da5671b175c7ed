/**
 * Webhook connector: POSTs the erasure request as JSON to a system's owner, signed with HMAC-SHA256 and
 * carrying an `Idempotency-Key`, so a retried call is recognisable as the same request.
 *
 * - `confirmation: response`: a 2xx answer means erased. 4xx answers are permanent except 408 and 429;
 *   5xx answers, timeouts and network errors are retried.
 * - `confirmation: signal`: the call only announces the request; the owner confirms later with the
 *   workflow's `confirmDeletion` signal.
 */
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { identifierPairs, identifierValue, identifierValues, workflowIdFor, type DerivedIdentifiers, type EraseResult, type SystemPreview, type SystemTask, type VerifyResult } from '../../domain';
import type { WebhookSystem } from './schema';
import { TransientConnectorError, attemptNumber, elapsed, evidenceFor, nonRetryable, transientNetworkCode, type CheckableConnector } from '../connector-kit';

/** Header with the signature: `sha256=<hex HMAC of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = 'X-Erasure-Signature';
/** Header with the signing time (Unix seconds), part of the signed text so old calls cannot be replayed. */
export const TIMESTAMP_HEADER = 'X-Erasure-Timestamp';

export interface WebhookConnectorOptions {
  /** The fetch to use (defaults to the global one). */
  fetch?: typeof fetch;
  /** Clock for the signature timestamp. */
  now?: () => Date;
}

/** What a receiver gets. `identifiers` and `derived` are present only when the catalog says `send: identifiers`. */
export interface WebhookPayload {
  action: 'erase' | 'verify';
  requestId: string;
  workflowId: string;
  system: string;
  subjectRef: string;
  identifiers?: Record<string, string>;
  /**
   * Identifiers other systems found for the subject (the customer row found by e-mail gives a `userId`),
   * for names the request did not carry, each with every value found; absent when there are none.
   */
  derived?: DerivedIdentifiers;
  /** How to answer: `response` (the HTTP status) or `signal` (send confirmDeletion to the workflow). */
  confirmation: 'response' | 'signal';
  sentAt: string;
}

/** The signature a receiver recomputes to authenticate a call. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Optional JSON answer: counts the receiver reports. */
interface WebhookAnswer {
  found?: number;
  erased?: number;
  remaining?: number;
}

/**
 * The derived identifiers to send: only names the request lacks (its own value wins), each deduplicated;
 * undefined when nothing is left.
 * @example derivedToSend({ email: 'a@x.com' }, { userId: ['17', '18'] }) // { userId: ['17', '18'] }
 */
export function derivedToSend(subject: SystemTask['subject'], derived: DerivedIdentifiers | undefined): DerivedIdentifiers | undefined {
  const entries = Object.keys(derived ?? {})
    .filter((name) => !identifierValue(subject, name))
    .map((name) => [name, identifierValues(subject, name, derived)] as const)
    .filter(([, values]) => values.length > 0);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);

/**
 * Builds the connector for one webhook system.
 * @example const c = webhookConnector(catalogEntry); await c.erase(task);
 */
export function webhookConnector(system: WebhookSystem, opts: WebhookConnectorOptions = {}): CheckableConnector {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? (() => new Date());

  function payload(task: SystemTask, action: WebhookPayload['action']): WebhookPayload {
    const send = (task.system.spec.send as WebhookSystem['send'] | undefined) ?? system.send;
    return {
      action,
      requestId: task.requestId,
      workflowId: workflowIdFor(task.requestId),
      system: system.id,
      subjectRef: task.subjectRef,
      identifiers: send === 'identifiers' ? Object.fromEntries(identifierPairs(task.subject)) : undefined,
      derived: send === 'identifiers' ? derivedToSend(task.subject, task.derived) : undefined,
      confirmation: system.confirmation,
      sentAt: now().toISOString(),
    };
  }

  async function post(task: SystemTask, action: WebhookPayload['action']): Promise<{ status: number; answer: WebhookAnswer }> {
    const body = JSON.stringify(payload(task, action));
    const timestamp = String(Math.floor(now().getTime() / 1000));
    let res: Response;
    try {
      res = await doFetch(system.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `${task.requestId}:${system.id}:${action}`,
          [SIGNATURE_HEADER]: signWebhook(system.secret, timestamp, body),
          [TIMESTAMP_HEADER]: timestamp,
          'user-agent': 'erasure-engine',
        },
        body,
        // A redirect would re-send identifiers to a host the catalog never named.
        redirect: 'manual',
        signal: AbortSignal.timeout(system.timeout),
      });
    } catch (err) {
      const code = transientNetworkCode(err) ?? ((err as Error)?.name === 'AbortError' ? 'TIMEOUT' : undefined);
      throw new TransientConnectorError(system.id, `webhook call failed (${code ?? (err as Error)?.name ?? 'error'})`);
    }
    const text = await res.text().catch(() => '');
    // Receivers' bodies may echo the request: only the status goes into messages.
    if (res.status >= 200 && res.status < 300) {
      let answer: WebhookAnswer = {};
      try {
        const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        answer = { found: count(parsed.found), erased: count(parsed.erased), remaining: count(parsed.remaining) };
      } catch {
        // A 2xx without JSON is still a confirmation.
      }
      return { status: res.status, answer };
    }
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      throw new TransientConnectorError(system.id, `webhook answered HTTP ${res.status}; will retry`);
    }
    if (res.status >= 300 && res.status < 400) throw nonRetryable(system.id, `webhook answered with a redirect (HTTP ${res.status}); put the final URL in the catalog`);
    throw nonRetryable(system.id, `webhook refused the request (HTTP ${res.status})`);
  }

  const evidence = (task: SystemTask) =>
    evidenceFor(system, task, { url: system.url, send: task.system.spec.send ?? system.send, confirmation: system.confirmation });

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const { status, answer } = await post(task, 'erase');
      const erased = answer.erased ?? answer.found ?? 0;
      return {
        action: 'webhook',
        found: answer.found ?? erased,
        erased,
        evidenceHash: evidence(task),
        details: { durationMs: elapsed(started), httpStatus: status, attempt: attemptNumber(), acknowledged: 1 },
      };
    },

    async verify(task): Promise<VerifyResult> {
      if (!system.verify) return { remaining: 0 }; // the 2xx to the erase call was the receiver's confirmation
      const { answer } = await post(task, 'verify');
      if (answer.remaining === undefined) throw nonRetryable(system.id, 'verify answer lacks a "remaining" count');
      return { remaining: answer.remaining };
    },

    async notify(task) {
      await post(task, 'erase');
    },

    async preview(): Promise<SystemPreview> {
      // Asking would start the erasure at the receiver: it erases its own data, and only it can count it.
      return { entries: [], note: `the receiver erases its own data when asked (${system.confirmation === 'signal' ? 'and confirms with a signal' : 'a 2xx answer confirms it'}): nothing is counted beforehand` };
    },

    async check() {
      // Reachability only: a test POST could start a real erasure at the receiver.
      const url = new URL(system.url);
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: url.hostname, port, timeout: Math.min(system.timeout, 5_000) });
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('timeout', () => {
          socket.destroy();
          reject(new TransientConnectorError(system.id, `no answer from ${url.host} (timeout)`));
        });
        socket.once('error', (err) => reject(new TransientConnectorError(system.id, `cannot reach ${url.host} (${transientNetworkCode(err) ?? (err as NodeJS.ErrnoException).code ?? err.name})`)));
      });
      return `${url.host} accepts connections (${system.confirmation} mode)`;
    },

    async close() {
      // fetch keeps no state of ours
    },
  };
}
