/**
 * AES-256-GCM sealing, the one cipher of the encryption layer: wraps data keys under the master key, seals the
 * master key check value and encrypts payloads under data keys.
 *
 * Sealed format: version (1 byte, 0x01) || IV (12 random bytes) || ciphertext || tag (16 bytes). The
 * additional authenticated data binds the ciphertext to where it belongs (a key id), so moving ciphertext
 * between rows or rewriting a payload's key id metadata fails authentication.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

const VERSION = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed value adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + IV_BYTES + TAG_BYTES;
/** AES-256: every key of the hierarchy is 32 bytes. */
export const KEY_BYTES = 32;

/** Turns 32 bytes into a key object (which keeps the bytes out of logs and `util.inspect`). */
export function secretKey(bytes: Uint8Array): KeyObject {
  if (bytes.length !== KEY_BYTES) throw new RangeError(`an AES-256 key is ${KEY_BYTES} bytes, got ${bytes.length}`);
  return createSecretKey(bytes);
}

/** Encrypts and authenticates `plaintext` under `key` with a fresh random IV. */
export function seal(key: KeyObject, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]);
}

/** Why {@link open} refused a sealed value. */
export class SealError extends Error {
  override readonly name = 'SealError';
  constructor(readonly reason: 'format' | 'authentication') {
    super(reason === 'format' ? 'sealed value is truncated or of an unknown version' : 'sealed value failed authentication');
  }
}

/** Decrypts a value from {@link seal}; throws {@link SealError} when it is malformed or was altered. */
export function open(key: KeyObject, sealed: Uint8Array, aad: Uint8Array): Buffer {
  if (sealed.length < SEAL_OVERHEAD || sealed[0] !== VERSION) throw new SealError('format');
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const iv = buf.subarray(1, 1 + IV_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  const body = buf.subarray(1 + IV_BYTES, buf.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new SealError('authentication');
  }
}
