/** A logger whose output a test can read back: the engine's own logger, writing to memory. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger';

export interface CapturedLogs {
  logger: Logger;
  /** Each line as written (JSON text), for scanning the whole output. */
  raw: string[];
  /** The same lines parsed, for asserting on fields (`level`, `msg`, …). */
  lines: Array<Record<string, unknown>>;
}

/**
 * A debug-level logger that keeps every line it writes.
 * @example const { logger, lines } = capturingLogger(); …; assert.ok(lines.some((l) => l.level === 40));
 */
export function capturingLogger(): CapturedLogs {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), raw, lines };
}
