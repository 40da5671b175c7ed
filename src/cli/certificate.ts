/**
 * The certificate commands of the `erasure` CLI:
 *   verify <certificate.json> [--jwks <file|url>]       is this certificate authentic and intact?
 *   verify-subject <certificate.json> --email <x> …      does this person's identifier match its commitment?
 *   ledger check [--database-url <url>] [--jwks …]       is the ledger's hash chain unbroken, every certificate's request received?
 *
 * Each command's outcome is an exit code (see {@link ExitCode}) and one line of explanation. Files given
 * by users are validated with the certificate schema; a bad file is a clear message, never a stack trace.
 * Identifier values are never echoed.
 */
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { publicKeyFromPem, publicKeysFromJwks, KeyError, type PublicKeyEntry } from '../certificate/keys';
import { loadPublicKeys } from '../certificate/issuer';
import { matchSubject } from '../certificate/commitment';
import { certificateSchema, describeIssues } from '../certificate/schema';
import { verifyCertificate } from '../certificate/sign';
import { checkLedger } from '../certificate/chain';
import { createPool } from '../ledger/db';
import { ConfigError, loadCliConfig, type CliConfig } from '../config';
import { subjectIdentifiersSchema } from '../domain';
import { processIo, type CliIo } from './io';
import { subjectFromOptions, withSubjectOptions, type IdentifierOptions } from './subject-options';

/** Exit codes of the certificate commands. */
export const ExitCode = {
  /** Valid / matches / chain intact. */
  ok: 0,
  /** The check ran and failed: bad signature, identifier does not match, chain broken. */
  failed: 1,
  /** The command was used wrongly (missing or invalid option). */
  usage: 2,
  /** The certificate file is not JSON or not an erasure certificate. */
  malformed: 3,
  /** The certificate is signed by a key that is not among the trusted keys. */
  unknownKey: 4,
  /** Something needed could not be read or reached (file, JWKS, database). */
  unavailable: 5,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure that ends a command with an exit code and a message. */
class CliFailure extends Error {
  constructor(
    readonly code: ExitCodeValue,
    message: string,
  ) {
    super(message);
  }
}

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** Reads and parses a certificate file; the result is still untrusted JSON. */
async function readCertificateFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new CliFailure(ExitCode.unavailable, `cannot read ${file}: ${errorCode(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliFailure(ExitCode.malformed, `invalid: ${file} is not JSON (${(err as Error).message})`);
  }
}

/** Public keys from a JWKS file or URL, a single JWK, or a PEM public key. */
export async function readPublicKeys(source: string): Promise<PublicKeyEntry[]> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    let res: Response;
    try {
      res = await fetch(source, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
    } catch (err) {
      throw new CliFailure(ExitCode.unavailable, `cannot fetch the JWKS at ${source}: ${(err as Error).message}`);
    }
    if (!res.ok) throw new CliFailure(ExitCode.unavailable, `cannot fetch the JWKS at ${source}: HTTP ${res.status}`);
    text = await res.text();
  } else {
    try {
      text = await fs.readFile(source, 'utf8');
    } catch (err) {
      throw new CliFailure(ExitCode.unavailable, `cannot read the keys in ${source}: ${errorCode(err)}`);
    }
  }
  try {
    if (text.trimStart().startsWith('-----BEGIN')) return [publicKeyFromPem(text, source)];
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new KeyError(`${source} is neither JSON nor PEM`);
    }
    const keys = publicKeysFromJwks(doc && typeof doc === 'object' && 'kty' in doc ? { keys: [doc] } : doc);
    if (keys.length === 0) throw new KeyError(`${source} holds no Ed25519 public key`);
    return keys;
  } catch (err) {
    if (err instanceof KeyError) throw new CliFailure(ExitCode.unavailable, err.message);
    throw err;
  }
}

/** One variable a command falls back on (ERASURE_JWKS, DATABASE_URL), validated; read only when its option is missing. */
function setting<K extends keyof CliConfig>(io: CliIo, name: K): CliConfig[K] {
  try {
    return loadCliConfig(io.env, [name])[name];
  } catch (err) {
    if (err instanceof ConfigError) throw new CliFailure(ExitCode.usage, err.message.replace(/\n\s*/g, ' '));
    throw err;
  }
}

/** Keys for `verify`: --jwks, else ERASURE_JWKS, else the ledger database's signing_keys. */
async function trustedKeys(jwksOption: string | undefined, io: CliIo): Promise<PublicKeyEntry[]> {
  if (jwksOption) return readPublicKeys(jwksOption);
  const ERASURE_JWKS = setting(io, 'ERASURE_JWKS');
  if (ERASURE_JWKS) return readPublicKeys(ERASURE_JWKS);
  const DATABASE_URL = setting(io, 'DATABASE_URL');
  if (DATABASE_URL) {
    const pool = createPool({ connectionString: DATABASE_URL, max: 1, applicationName: 'erasure-cli' });
    try {
      return await loadPublicKeys(pool);
    } catch (err) {
      throw new CliFailure(ExitCode.unavailable, `cannot read the signing keys from the ledger database: ${(err as Error).message}`);
    } finally {
      await pool.end();
    }
  }
  throw new CliFailure(ExitCode.usage, 'no public keys to verify with: pass --jwks <file|url> (e.g. https://<api>/.well-known/jwks.json), or set ERASURE_JWKS or DATABASE_URL');
}

async function run(io: CliIo, body: () => Promise<ExitCodeValue>): Promise<ExitCodeValue> {
  let code: ExitCodeValue;
  try {
    code = await body();
  } catch (err) {
    // Users get a reason, not a stack trace, whatever went wrong.
    io.err(err instanceof CliFailure ? err.message : `error: ${(err as Error).message}`);
    code = err instanceof CliFailure ? err.code : ExitCode.unavailable;
  }
  io.setExitCode(code);
  return code;
}

/**
 * `erasure verify`: checks a certificate file's format, key and signature.
 * @example await runVerify('certificate.json', { jwks: 'jwks.json' }, processIo()) // 0 when valid
 */
export function runVerify(file: string, opts: { jwks?: string }, io: CliIo): Promise<ExitCodeValue> {
  return run(io, async () => {
    const input = await readCertificateFile(file);
    const outcome = await verifyCertificate(input, await trustedKeys(opts.jwks, io));
    if (!outcome.valid) {
      io.err(`invalid: ${outcome.message}`);
      return outcome.reason === 'unknown_key' ? ExitCode.unknownKey : outcome.reason === 'malformed' ? ExitCode.malformed : ExitCode.failed;
    }
    const c = outcome.certificate;
    io.out(
      `valid: certificate ${c.certificateId} (#${c.sequence}) for request ${c.request.requestId} (${c.request.jurisdiction}), ` +
        `${c.systems.length} system${c.systems.length === 1 ? '' : 's'}, completed ${c.request.completedAt}, signed ${c.issuedAt} by key ${c.signature.keyId}`,
    );
    return ExitCode.ok;
  });
}

export interface SubjectOptions extends IdentifierOptions {
  jwks?: string;
}

/**
 * `erasure verify-subject`: does this person's identifier match the certificate's subject commitment?
 * Verifies the signature too when keys are given (--jwks or ERASURE_JWKS).
 * @example await runVerifySubject('certificate.json', { email: 'ada@example.com' }, processIo()) // 0 on a match
 */
export function runVerifySubject(file: string, opts: SubjectOptions, io: CliIo): Promise<ExitCodeValue> {
  return run(io, async () => {
    const given = subjectFromOptions(opts);
    if (given.problem !== undefined) throw new CliFailure(ExitCode.usage, given.problem);
    const subject = subjectIdentifiersSchema.safeParse(given.subject);
    if (!subject.success) throw new CliFailure(ExitCode.usage, `identifiers: ${describeIssues(subject.error)}`);

    const input = await readCertificateFile(file);
    const source = opts.jwks ?? setting(io, 'ERASURE_JWKS');
    let signatureNote = 'signature not checked (pass --jwks to check it)';
    if (source) {
      const outcome = await verifyCertificate(input, await readPublicKeys(source));
      if (!outcome.valid) {
        io.err(`invalid: ${outcome.message}`);
        return outcome.reason === 'unknown_key' ? ExitCode.unknownKey : outcome.reason === 'malformed' ? ExitCode.malformed : ExitCode.failed;
      }
      signatureNote = `signature valid (key ${outcome.keyId})`;
    }
    const parsed = certificateSchema.safeParse(input);
    if (!parsed.success) throw new CliFailure(ExitCode.malformed, `invalid: not an erasure certificate: ${describeIssues(parsed.error)}`);

    const results = matchSubject(parsed.data.subject.commitment, subject.data);
    const detail = results.map((r) => `${r.type} ${r.result === 'absent' ? 'not in the certificate' : r.result === 'match' ? 'matches' : 'does not match'}`).join(', ');
    const allMatch = results.every((r) => r.result === 'match');
    const line = `${allMatch ? 'match' : 'no match'}: ${detail} — certificate ${parsed.data.certificateId} for request ${parsed.data.request.requestId}; ${signatureNote}`;
    if (allMatch) io.out(line);
    else io.err(line);
    return allMatch ? ExitCode.ok : ExitCode.failed;
  });
}

/**
 * `erasure ledger check`: walks the certificate chain and reports the first break.
 * @example await runLedgerCheck({ databaseUrl: 'postgres://127.0.0.1:5433/erasure_engine' }, processIo()) // 0 when intact
 */
export function runLedgerCheck(opts: { databaseUrl?: string; jwks?: string }, io: CliIo): Promise<ExitCodeValue> {
  return run(io, async () => {
    const url = opts.databaseUrl ?? setting(io, 'DATABASE_URL');
    if (!url) throw new CliFailure(ExitCode.usage, 'no ledger database: set DATABASE_URL or pass --database-url');
    const keys = opts.jwks ? await readPublicKeys(opts.jwks) : undefined;
    const pool = createPool({ connectionString: url, max: 2, applicationName: 'erasure-cli' });
    try {
      let result;
      try {
        result = await checkLedger(pool, { keys });
      } catch (err) {
        throw new CliFailure(ExitCode.unavailable, `cannot check the ledger: ${(err as Error).message}`);
      }
      if (!result.ok && result.break!.kind === 'unreceived') {
        // The chain itself held: say so, then name the certificates nobody asked for.
        io.err(`ledger chain intact (${result.checked} certificate${result.checked === 1 ? '' : 's'}), but ${result.break!.message}`);
        return ExitCode.failed;
      }
      if (!result.ok) {
        io.err(`ledger broken (${result.break!.kind}) at #${result.break!.sequence}: ${result.break!.message}; ${result.checked} certificate${result.checked === 1 ? '' : 's'} before it intact`);
        return ExitCode.failed;
      }
      io.out(
        result.head
          ? `ledger intact: ${result.checked} certificate${result.checked === 1 ? '' : 's'}, head #${result.head.sequence} ${result.head.certificateId} sha256:${result.head.hash}`
          : 'ledger intact: no certificates issued yet',
      );
      return ExitCode.ok;
    } finally {
      await pool.end();
    }
  });
}

/**
 * Adds `verify`, `verify-subject` and `ledger check` to the CLI program.
 * @example const program = new Command('erasure'); registerCertificateCommands(program); await program.parseAsync();
 */
export function registerCertificateCommands(program: Command, io: CliIo = processIo()): Command {
  program
    .command('verify')
    .description('verify an erasure certificate: format, signing key and Ed25519 signature (exit 0 when valid)')
    .argument('<certificate>', 'certificate JSON file')
    .option('--jwks <file|url>', 'trusted public keys: JWKS file or URL, single JWK, or PEM (default: $ERASURE_JWKS, else the keys in $DATABASE_URL)')
    .action(async (file: string, opts: { jwks?: string }) => {
      await runVerify(file, opts, io);
    });

  withSubjectOptions(
    program
      .command('verify-subject')
      .description("check a person's identifiers against a certificate's subject commitment (exit 0 when all match)")
      .argument('<certificate>', 'certificate JSON file'),
  )
    .option('--jwks <file|url>', 'also verify the signature against these public keys (default: $ERASURE_JWKS)')
    .action(async (file: string, opts: SubjectOptions) => {
      await runVerifySubject(file, opts, io);
    });

  const ledger = program.command('ledger').description('the certificate ledger');
  ledger
    .command('check')
    .description('walk the certificate hash chain and report the first break or any certificate for a request the ledger never received (exit 0 when intact)')
    .option('--database-url <url>', 'ledger database (default: $DATABASE_URL)')
    .option('--jwks <file|url>', 'verify signatures against these public keys instead of the ledger\'s own signing_keys')
    .action(async (opts: { databaseUrl?: string; jwks?: string }) => {
      await runLedgerCheck(opts, io);
    });
  return program;
}
