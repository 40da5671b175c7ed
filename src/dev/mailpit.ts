/**
 * Starts mailpit, a real SMTP server with a web inbox and an HTTP API, for local runs (`npm start`, inbox at
 * http://localhost:8025) and tests. The binary is `go install`ed by `scripts/setup.sh`; nothing here downloads.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, projectRoot, toolPaths, waitForPort, type RunningServer } from './servers';

export interface MailpitServer extends RunningServer {
  /** Where mail is sent: `SMTP_HOST`/`SMTP_PORT`. */
  readonly smtpHost: string;
  readonly smtpPort: number;
  /** Port of the web inbox and its HTTP API. */
  readonly httpPort: number;
  /** Base URL of the web inbox; its API is under `/api/v1`. */
  readonly url: string;
}

export interface StartMailpitOptions {
  /** SMTP port; a free one when unset. */
  smtpPort?: number;
  /** Web inbox / API port; a free one when unset. */
  httpPort?: number;
  /** Keeps the messages in this SQLite file across restarts; a temporary database when unset. */
  dbFile?: string;
  /** Only recipients matching this regular expression are accepted; others are refused with SMTP 550. */
  allowedRecipients?: string;
  /** How long to wait for both ports (default 30 s). */
  timeoutMs?: number;
}

/** The mailpit binary from `.tools/paths.json`; fails loudly when setup has not installed it. */
export function mailpitBinary(): string {
  const bin = toolPaths().mailpit as string | undefined;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`mailpit is not installed (${bin ?? `no "mailpit" in ${path.join(projectRoot, '.tools', 'paths.json')}`}): run "npm run setup"`);
  }
  return bin;
}

/**
 * Starts mailpit on loopback.
 * @example const mail = await startMailpit({ smtpPort: 1025, httpPort: 8025, dbFile: '.data/mailpit.db' }); …; await mail.stop();
 */
export async function startMailpit(opts: StartMailpitOptions = {}): Promise<MailpitServer> {
  const bin = mailpitBinary();
  const smtpPort = opts.smtpPort ?? (await freePort());
  const httpPort = opts.httpPort ?? (await freePort());
  const args = ['--smtp', `127.0.0.1:${smtpPort}`, '--listen', `127.0.0.1:${httpPort}`, '--smtp-disable-rdns', '--quiet'];
  if (opts.dbFile) args.push('--database', opts.dbFile);
  if (opts.allowedRecipients) args.push('--smtp-allowed-recipients', opts.allowedRecipients);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`mailpit exited with ${code}: ${output}`))));
  exited.catch(() => undefined);
  try {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    await Promise.race([Promise.all([waitForPort(smtpPort, timeoutMs, 'mailpit SMTP'), waitForPort(httpPort, timeoutMs, 'mailpit HTTP')]), exited]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    process: child,
    smtpHost: '127.0.0.1',
    smtpPort,
    httpPort,
    url: `http://localhost:${httpPort}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}
