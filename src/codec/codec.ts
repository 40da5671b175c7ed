/**
 * The payload codec: AES-256-GCM over every payload the engine hands to Temporal.
 *
 * A codec sees payloads, not the request they belong to, so the payload says it: the default JSON converter
 * runs first, and a JSON object with a string `requestId` at its top level (ErasureInput, SystemTask,
 * CertificateRequest, …) is encrypted with that request's data key; everything else (results, signals,
 * failures) with the default key. The key id travels in the metadata; the original payload, metadata
 * included, is the plaintext.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { open, seal, SealError } from './aead';
import { DataKeyDestroyedError, PayloadAuthenticationError, UnknownDataKeyError } from './errors';
import type { DataKey, DestroyedKey, KeyStore } from './keys';

/** `encoding` of an encrypted payload. */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata key holding the id of the data key a payload is encrypted with. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** Metadata key marking the stand-in the codec returns for a shredded payload. */
export const METADATA_SHREDDED = 'erasure-shredded';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const payloadAad = (keyId: string) => utf8.encode(`payload:${keyId}`);

/** What decoding a shredded payload yields, in place of the data that can no longer be read. */
export interface ShreddedPayloadValue {
  shredded: true;
  keyId: string;
  requestId: string;
  destroyedAt: string;
  message: string;
}

function metadataText(p: Payload, key: string): string | undefined {
  const v = p.metadata?.[key];
  return v ? fromUtf8.decode(v) : undefined;
}

/** The parsed top level of a JSON object payload, or undefined for anything else. */
function jsonObjectOf(p: Payload): Record<string, unknown> | undefined {
  if (metadataText(p, 'encoding') !== 'json/plain' || !p.data) return undefined;
  try {
    const v: unknown = JSON.parse(fromUtf8.decode(p.data));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The payload standing in for a shredded one: plain JSON that says what happened, never an exception. */
export function shreddedPayload(t: DestroyedKey): Payload {
  const value: ShreddedPayloadValue = {
    shredded: true,
    keyId: t.keyId,
    requestId: t.requestId,
    destroyedAt: t.destroyedAt,
    message: 'data key destroyed after the certificate was issued',
  };
  return {
    metadata: { encoding: utf8.encode('json/plain'), [METADATA_SHREDDED]: utf8.encode('true') },
    data: utf8.encode(JSON.stringify(value)),
  };
}

/** True for a payload produced by {@link shreddedPayload}. */
export function isShreddedPayload(p: Payload): boolean {
  return metadataText(p, METADATA_SHREDDED) === 'true';
}

/**
 * Encrypts payloads with per-request data keys from a {@link KeyStore}.
 * @example new Worker({ dataConverter: { payloadCodecs: [new EncryptionCodec(keyStore)] }, … })
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: KeyStore) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.encodeOne(p)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.decodeOne(p)));
  }

  private async keyFor(p: Payload): Promise<DataKey> {
    const obj = jsonObjectOf(p);
    const requestId = obj?.requestId;
    if (typeof requestId !== 'string' || requestId === '') return this.keys.defaultKey;
    const k = await this.keys.requestKey(requestId);
    if (k.state === 'live') return k.dataKey;
    // After shredding, a request's payloads carry no identifiers (status views, audit events); those
    // go under the default key. Identifiers of a shredded request must never be encrypted again.
    if ('subject' in (obj as object)) throw new DataKeyDestroyedError(requestId, k.keyId);
    return this.keys.defaultKey;
  }

  private async encodeOne(p: Payload): Promise<Payload> {
    if (metadataText(p, 'encoding') === ENCODING_ENCRYPTED) return p;
    const key = await this.keyFor(p);
    const plaintext = temporal.api.common.v1.Payload.encode(p).finish();
    return {
      metadata: { encoding: utf8.encode(ENCODING_ENCRYPTED), [METADATA_KEY_ID]: utf8.encode(key.id) },
      data: seal(key.key, plaintext, payloadAad(key.id)),
    };
  }

  private async decodeOne(p: Payload): Promise<Payload> {
    if (metadataText(p, 'encoding') !== ENCODING_ENCRYPTED) return p;
    const keyId = metadataText(p, METADATA_KEY_ID);
    if (!keyId) throw new PayloadAuthenticationError('(missing)');
    const found = await this.keys.lookup(keyId);
    if (found.state === 'unknown') throw new UnknownDataKeyError(keyId);
    if (found.state === 'destroyed') return shreddedPayload(found);
    let plaintext: Buffer;
    try {
      plaintext = open(found.dataKey.key, p.data ?? new Uint8Array(), payloadAad(keyId));
    } catch (err) {
      if (err instanceof SealError) throw new PayloadAuthenticationError(keyId);
      throw err;
    }
    const inner = temporal.api.common.v1.Payload.decode(plaintext);
    return { metadata: inner.metadata, data: inner.data };
  }
}
