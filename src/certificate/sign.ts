/**
 * Signing and verifying certificates.
 *
 * The signed bytes are the RFC 8785 canonical JSON of the whole certificate with `signature.value` left
 * out, so the algorithm and the key id are covered by the signature too. The certificate's hash (what the
 * next certificate's `previousCertificateHash` holds) is SHA-256 over the canonical JSON of the complete
 * certificate, signature included.
 */
import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { canonicalJson, sha256Hex } from './canonical';
import type { KeyRing, PublicKeyEntry, SigningKey } from './keys';
import { certificateSchema, describeIssues, type ErasureCertificate, type UnsignedCertificate } from './schema';

/** The bytes a signature covers: everything but `signature.value`. */
export async function signedBytes(certificate: UnsignedCertificate & { signature: { algorithm: string; keyId: string; value?: string } }): Promise<Buffer> {
  const { value: _value, ...signature } = certificate.signature;
  return Buffer.from(await canonicalJson({ ...certificate, signature }), 'utf8');
}

/**
 * Signs a certificate with Ed25519.
 * @example const certificate = await signCertificate(unsigned, keyRing.signing);
 */
export async function signCertificate(unsigned: UnsignedCertificate, key: SigningKey): Promise<ErasureCertificate> {
  const signature = { algorithm: 'Ed25519' as const, keyId: key.keyId };
  const bytes = await signedBytes({ ...unsigned, signature });
  const value = edSign(null, bytes, key.privateKey).toString('base64url');
  return { ...unsigned, signature: { ...signature, value } };
}

/** SHA-256 (hex) of the certificate's canonical JSON: its link in the ledger's chain. */
export async function certificateHash(certificate: ErasureCertificate): Promise<string> {
  return sha256Hex(await canonicalJson(certificate));
}

/** Why a certificate did not verify. */
export type VerifyFailure = 'malformed' | 'unknown_key' | 'bad_signature';

export type VerifyOutcome =
  | { valid: true; certificate: ErasureCertificate; keyId: string }
  | { valid: false; reason: VerifyFailure; message: string };

function keyLookup(keys: KeyRing | PublicKeyEntry[]): (keyId: string) => KeyObject | undefined {
  const entries = Array.isArray(keys) ? keys : [keys.signing, ...keys.publicKeys];
  return (keyId) => entries.find((e) => e.keyId === keyId)?.publicKey;
}

/**
 * Verifies a certificate (as parsed JSON, not yet trusted) against a set of public keys: its format,
 * its key id and its Ed25519 signature.
 * @example const outcome = await verifyCertificate(JSON.parse(text), publicKeysFromJwks(jwksDoc));
 */
export async function verifyCertificate(input: unknown, keys: KeyRing | PublicKeyEntry[]): Promise<VerifyOutcome> {
  const parsed = certificateSchema.safeParse(input);
  if (!parsed.success) return { valid: false, reason: 'malformed', message: `not an erasure certificate: ${describeIssues(parsed.error)}` };
  const certificate = parsed.data;
  const { keyId, value } = certificate.signature;
  const signature = Buffer.from(value, 'base64url');
  // base64url decoding ignores the unused low bits of the last character; demand the one canonical
  // spelling so that no edit of the file, however small, leaves it verifying.
  if (signature.length !== 64 || signature.toString('base64url') !== value) {
    return { valid: false, reason: 'malformed', message: 'signature.value is not a canonical base64url Ed25519 signature' };
  }
  const publicKey = keyLookup(keys)(keyId);
  if (!publicKey) return { valid: false, reason: 'unknown_key', message: `signed by key ${keyId}, which is not among the trusted public keys` };
  let ok: boolean;
  try {
    // The schema accepted the input, so it has exactly the certificate's fields; sign what was read.
    ok = edVerify(null, await signedBytes(input as ErasureCertificate), publicKey, signature);
  } catch (err) {
    return { valid: false, reason: 'malformed', message: `cannot be canonicalized: ${(err as Error).message}` };
  }
  if (!ok) return { valid: false, reason: 'bad_signature', message: `the signature does not match the content (key ${keyId}): the certificate was altered or signed by another key` };
  return { valid: true, certificate, keyId };
}
