/**
 * Ed25519 signing keys: loading the private key (file, environment or first-start generation), key ids,
 * and public keys as JWK (RFC 8037 `OKP`) for the JWKS endpoint and offline verification.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger';

/** The key certificates are signed with. `keyId` is its public key's RFC 7638 thumbprint. */
export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A public key that certificates may be verified against (current or retired). */
export interface PublicKeyEntry {
  keyId: string;
  publicKey: KeyObject;
  /** ISO time it was first registered, when known. */
  createdAt?: string;
  /** ISO time another key replaced it for signing; it still verifies what it signed. */
  retiredAt?: string | null;
}

/** The signing key plus every public key that verifies the ledger's certificates. */
export interface KeyRing {
  signing: SigningKey;
  publicKeys: PublicKeyEntry[];
}

/** An Ed25519 public key as JWK, with its key id. */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

/** File name of the key generated on a first local start, inside the data folder. */
export const GENERATED_KEY_FILE = 'signing-key.pem';

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`${what} is a ${key.asymmetricKeyType ?? key.type} key; certificates are signed with Ed25519`);
  }
}

/**
 * The RFC 7638 JWK thumbprint of an Ed25519 public key (base64url SHA-256 of its required members in
 * lexicographic order), used as key id: the same key always gets the same id, on every machine.
 */
export function keyIdOf(publicKey: KeyObject): string {
  assertEd25519(publicKey, 'the public key');
  const { x } = publicKey.export({ format: 'jwk' });
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

/** Parses a PEM private key (PKCS#8); the error never repeats the key material. */
export function signingKeyFromPem(pem: string, source: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`${source} does not hold a PEM private key`);
  }
  assertEd25519(privateKey, source);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/** Generates a fresh Ed25519 key pair. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/** The private key as PKCS#8 PEM, for writing to a key file. */
export function signingKeyToPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export interface LoadSigningKeyOptions {
  /** The PEM itself (`SIGNING_KEY_PEM`). */
  pem?: string;
  /** Path to a PEM file (`SIGNING_KEY_FILE`). */
  file?: string;
  /** Folder for the key generated on a first local start (`ERASURE_DATA_DIR`, e.g. `.data`). */
  dataDir?: string;
  /**
   * Whether to generate a key in `dataDir` when none is configured (default true). The engine passes
   * false when `NODE_ENV` is `production`, where a missing key is a configuration error.
   */
  generate?: boolean;
  logger?: Logger;
}

/**
 * Loads the signing key: `pem`, else `file`, else (local runs) the key in the data folder, generated
 * there with a log line on the first start. Messages name the variable, never the key material.
 * @example const key = loadSigningKey({ pem: config.SIGNING_KEY_PEM, file: config.SIGNING_KEY_FILE, dataDir: '.data', logger });
 */
export function loadSigningKey(opts: LoadSigningKeyOptions = {}): SigningKey {
  const pem = opts.pem?.trim();
  const file = opts.file?.trim();
  if (pem && file) throw new KeyError('both SIGNING_KEY_PEM and SIGNING_KEY_FILE are set; set only one');
  if (pem) {
    // Environment files often carry a PEM on one line with literal "\n" separators.
    const key = signingKeyFromPem(pem.replace(/\\n/g, '\n'), 'SIGNING_KEY_PEM');
    opts.logger?.info({ keyId: key.keyId, source: 'SIGNING_KEY_PEM' }, 'certificate signing key loaded');
    return key;
  }
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new KeyError(`SIGNING_KEY_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const key = signingKeyFromPem(text, `SIGNING_KEY_FILE ${file}`);
    opts.logger?.info({ keyId: key.keyId, source: file }, 'certificate signing key loaded');
    return key;
  }
  if (opts.generate === false || !opts.dataDir) {
    throw new KeyError(
      'no certificate signing key: set SIGNING_KEY_FILE (path to an Ed25519 PEM private key) or SIGNING_KEY_PEM' +
        (opts.generate === false ? ' (generating one is off, as under NODE_ENV=production)' : ', or ERASURE_DATA_DIR to a folder where a generated key is kept'),
    );
  }
  return loadOrGenerateLocalKey(opts.dataDir, opts.logger);
}

/** The local key file: read when present, otherwise created atomically (two processes starting together agree). */
function loadOrGenerateLocalKey(dataDir: string, logger?: Logger): SigningKey {
  const target = path.join(dataDir, GENERATED_KEY_FILE);
  if (fs.existsSync(target)) {
    const key = signingKeyFromPem(fs.readFileSync(target, 'utf8'), target);
    logger?.info({ keyId: key.keyId, source: target }, 'certificate signing key loaded');
    return key;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const key = generateSigningKey();
  const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(temp, signingKeyToPem(key), { mode: 0o600, flag: 'wx' });
  try {
    // link() fails when the target exists, so a key written by a concurrent start is never overwritten.
    fs.linkSync(temp, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return loadOrGenerateLocalKey(dataDir, logger);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  logger?.warn(
    { keyId: key.keyId, file: target },
    `generated a new Ed25519 certificate signing key at ${target} (key id ${key.keyId}); for production set SIGNING_KEY_FILE or SIGNING_KEY_PEM and keep the key safe`,
  );
  return key;
}

/** The JWK form of a public key, with its key id. */
export function toJwk(entry: { keyId: string; publicKey: KeyObject }): Ed25519Jwk {
  const { x } = entry.publicKey.export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: x!, kid: entry.keyId, alg: 'EdDSA', use: 'sig' };
}

/**
 * The JSON Web Key Set served at `/.well-known/jwks.json`: every key that verifies a certificate,
 * the current signing key first.
 * @example res.json(jwks(keyRing));
 */
export function jwks(keys: KeyRing | PublicKeyEntry[]): { keys: Ed25519Jwk[] } {
  const entries: Array<{ keyId: string; publicKey: KeyObject }> = Array.isArray(keys) ? keys : [keys.signing, ...keys.publicKeys];
  const seen = new Set<string>();
  const out: Ed25519Jwk[] = [];
  for (const e of entries) {
    if (seen.has(e.keyId)) continue;
    seen.add(e.keyId);
    out.push(toJwk(e));
  }
  return { keys: out };
}

const jwkSchema = z.looseObject({ kty: z.string(), crv: z.string().optional(), x: z.string().optional(), kid: z.string().optional() });
/** A JWKS document as found in a file or at a URL; keys other than Ed25519 are allowed and ignored. */
export const jwksSchema = z.object({ keys: z.array(jwkSchema) });

/**
 * Public keys from a JWKS document. Ed25519 keys without a `kid` get their thumbprint as id.
 * @example const keys = publicKeysFromJwks(JSON.parse(text));
 */
export function publicKeysFromJwks(doc: unknown): PublicKeyEntry[] {
  const parsed = jwksSchema.safeParse(doc);
  if (!parsed.success) throw new KeyError('not a JWKS document (expected {"keys": [...]})');
  const out: PublicKeyEntry[] = [];
  for (const [i, jwk] of parsed.data.keys.entries()) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') continue;
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x ?? '' }, format: 'jwk' });
    } catch {
      throw new KeyError(`JWKS key #${i} is not a valid Ed25519 public key`);
    }
    out.push({ keyId: jwk.kid ?? keyIdOf(publicKey), publicKey });
  }
  return out;
}

/** A public key from PEM (SPKI, or a private key whose public half is taken). */
export function publicKeyFromPem(pem: string, source: string): PublicKeyEntry {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`${source} does not hold a PEM key`);
  }
  assertEd25519(publicKey, source);
  return { keyId: keyIdOf(publicKey), publicKey };
}
