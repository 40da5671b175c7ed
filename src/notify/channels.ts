/**
 * The two ways a notification leaves the engine: e-mail over SMTP (nodemailer) and a Slack-compatible chat
 * webhook (`{text, blocks}` POSTed as JSON), signed exactly like the webhook systems' calls (the HMAC of
 * `<timestamp>.<body>` in `X-Erasure-Signature`, the time in `X-Erasure-Timestamp`; src/systems/webhook).
 *
 * A channel says whether a failure may pass: a refused connection, a timeout, an SMTP 4xx or an HTTP 5xx is
 * tried again later; a recipient the mail server refuses for good (SMTP 5xx on the envelope or the message)
 * or a webhook answering 4xx is not. Error messages name status codes, never a webhook URL (it may hold a token).
 */
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from '../systems/webhook/connector';
import type { Notice } from './messages';
import type { NotifyWebhook } from './schema';

/** Why a send failed; `permanent` ones are never tried again. */
export class NotificationSendError extends Error {
  override readonly name = 'NotificationSendError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** How the engine reaches its mail server (`SMTP_*`). */
export interface SmtpSettings {
  host: string;
  port: number;
  from: string;
  user?: string;
  password?: string;
  /** `auto`: STARTTLS when offered; `starttls`: required; `tls`: TLS from the first byte (port 465); `none`: never. */
  tls: 'auto' | 'starttls' | 'tls' | 'none';
}

/** Sends one notice to one address. */
export interface EmailChannel {
  send(to: string, notice: Notice, headers?: Record<string, string>): Promise<void>;
  close(): void;
}

/** Classifies a nodemailer error: the server's SMTP reply when there is one, else the client's code. */
export function smtpFailure(err: unknown): NotificationSendError {
  const e = err as { code?: string; responseCode?: number; message?: string; response?: string };
  const reply = e.responseCode !== undefined ? `SMTP ${e.responseCode}` : e.code ?? 'error';
  const text = `${reply}: ${(e.response ?? e.message ?? String(err)).split('\n')[0]}`.slice(0, 500);
  // 5xx on the envelope (a recipient refused) or on the message is final; an auth or connection problem is
  // the engine's configuration or the server's state, which an operator fixes without re-queueing anything.
  const permanent = e.responseCode !== undefined && e.responseCode >= 500 && e.responseCode < 600 && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE');
  return new NotificationSendError(text, permanent);
}

/**
 * The SMTP channel.
 * @example const mail = emailChannel({ host: 'localhost', port: 1025, from: 'erasure@corp.example', tls: 'auto' }); await mail.send('ops@corp.example', notice);
 */
export function emailChannel(settings: SmtpSettings): EmailChannel {
  const options: SMTPTransport.Options = {
    host: settings.host,
    port: settings.port,
    secure: settings.tls === 'tls',
    requireTLS: settings.tls === 'starttls',
    ignoreTLS: settings.tls === 'none',
    ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
  const transport = nodemailer.createTransport(options);
  return {
    async send(to, notice, headers = {}) {
      try {
        await transport.sendMail({ from: settings.from, to, subject: notice.subject, text: notice.text, headers });
      } catch (err) {
        throw smtpFailure(err);
      }
    },
    close() {
      transport.close();
    },
  };
}

/** Options of the webhook channel. */
export interface WebhookChannelOptions {
  fetch?: typeof fetch;
  now?: () => Date;
  timeoutMs?: number;
}

/**
 * POSTs a notice as Slack-compatible JSON, signed with the target's secret.
 * @example await postChatWebhook({ url, secret }, notice, 'req-1:reminder:…');
 */
export async function postChatWebhook(target: NotifyWebhook, notice: Notice, idempotencyKey: string, opts: WebhookChannelOptions = {}): Promise<void> {
  const body = JSON.stringify({ text: notice.text, blocks: notice.blocks });
  const timestamp = String(Math.floor((opts.now?.() ?? new Date()).getTime() / 1000));
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        [SIGNATURE_HEADER]: signWebhook(target.secret, timestamp, body),
        [TIMESTAMP_HEADER]: timestamp,
        'user-agent': 'erasure-engine',
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new NotificationSendError(`webhook call failed (${cause})`, false);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return;
  if (res.status === 408 || res.status === 429 || res.status >= 500) throw new NotificationSendError(`webhook answered HTTP ${res.status}`, false);
  throw new NotificationSendError(`webhook refused the notification (HTTP ${res.status})`, true);
}
