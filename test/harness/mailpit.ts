/**
 * A real mailpit per test process (or per suite): an SMTP server on a free port whose messages the tests
 * read back through its HTTP API (`GET /api/v1/messages`, `GET /api/v1/message/{ID}`). Fails loudly when the
 * binary is missing (`npm run setup` installs it).
 */
import { startMailpit, type MailpitServer, type StartMailpitOptions } from '../../src/dev/mailpit';

/** One message as the list shows it. */
export interface MailSummary {
  ID: string;
  Subject: string;
  To: Array<{ Name: string; Address: string }>;
  From: { Name: string; Address: string };
}

/** One whole message. */
export interface MailMessage extends MailSummary {
  Text: string;
  HTML: string;
}

export interface Mailbox {
  server: MailpitServer;
  /** `SMTP_HOST` / `SMTP_PORT` for an engine environment. */
  env: { SMTP_HOST: string; SMTP_PORT: string };
  /** Every message received, newest first (summaries). */
  list(): Promise<MailSummary[]>;
  /** Every message received, whole, oldest first. */
  all(): Promise<MailMessage[]>;
  /** Polls (real time) until `pred` holds for the whole messages, and returns them. */
  waitFor(pred: (messages: MailMessage[]) => boolean, what: string, timeoutMs?: number): Promise<MailMessage[]>;
  /** Deletes every message. */
  clear(): Promise<void>;
  stop(): Promise<void>;
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`mailpit ${what}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * Starts mailpit on free ports.
 * @example const mail = await startMailbox(); … const [m] = await mail.waitFor((ms) => ms.length === 1, 'the request mail'); await mail.stop();
 */
export async function startMailbox(opts: StartMailpitOptions = {}): Promise<Mailbox> {
  const server = await startMailpit(opts);
  const api = `${server.url}/api/v1`;
  const list = async () => (await json<{ messages: MailSummary[] }>(await fetch(`${api}/messages?limit=1000`), 'list')).messages;
  const all = async () => {
    const summaries = (await list()).reverse();
    return Promise.all(summaries.map(async (s) => json<MailMessage>(await fetch(`${api}/message/${s.ID}`), 'message')));
  };
  return {
    server,
    env: { SMTP_HOST: server.smtpHost, SMTP_PORT: String(server.smtpPort) },
    list,
    all,
    async waitFor(pred, what, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const messages = await all();
        if (pred(messages)) return messages;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; mailpit has ${messages.length} message(s): ${messages.map((m) => m.Subject).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async clear() {
      const res = await fetch(`${api}/messages`, { method: 'DELETE' });
      if (!res.ok) throw new Error(`mailpit delete: HTTP ${res.status} ${await res.text()}`);
    },
    stop: () => server.stop(),
  };
}
