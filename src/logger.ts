/** The one logger: structured JSON (pino). Subject identifiers never reach it; callers log subjectRef. */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths redacted defensively in case an identifier-bearing object is ever logged by mistake. */
const redact = ['subject', '*.subject', 'email', '*.email', 'phone', '*.phone', 'identifiers', '*.identifiers', 'req.headers.authorization', 'req.headers["x-api-key"]'];

/** Builds a logger; `destination` lets tests capture every line. */
export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino({ level: opts.level ?? 'info', name: opts.name ?? 'erasure-engine', redact: { paths: redact, censor: '[redacted]' } }, opts.destination);
}
