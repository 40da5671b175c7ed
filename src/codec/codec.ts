/**
 * The payload codec: AES-256-GCM over every payload the engine hands to Temporal.
 *
 * Which key: the default JSON converter runs first, and
 *  1. a JSON object with a string `requestId` at its top level (ErasureInput, SystemTask, CertificateRequest,
 *     …) is encrypted with that request's data key;
 *  2. otherwise, when the SDK says the payload belongs to an erasure workflow (its serialization context names
 *     workflow `erasure-<requestId>`: results, signals, failures of that workflow and its activities), with
 *     that request's key too, so that a failure message quoting an identifier is shredded with the request;
 *  3. everything else with the default key (codec server calls, which carry no context; other workflows).
 * The key id travels in the metadata; the original payload, metadata included, is the plaintext.
 *
 * Once a request's key is destroyed, its identifier-free payloads go under the default key, and a payload
 * carrying its identifiers is never encrypted again: the SDK gets the shredded stand-in in its place (a
 * worker replaying a closed run must not fail), a direct caller gets {@link DataKeyDestroyedError}.
 *
 * Decoding refuses what the engine never writes: a payload in plaintext that carries a request's subject,
 * plan or carried state (a workflow started by hand with `temporal workflow start --input '{…}'`). It is
 * replaced by a refusal (see {@link refusedPayload}) instead of failing the decode, because a signal decodes
 * through the same call: a plaintext signal shaped like an input must not wedge the workflow it is sent to.
 */
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { open, seal, SealError } from './aead';
import { DataKeyDestroyedError, PayloadAuthenticationError, UnknownDataKeyError } from './errors';
import type { DataKey, DestroyedKey, KeyStore } from './keys';
import { ERASURE_WORKFLOW_PREFIX } from '../domain';

/** `encoding` of an encrypted payload. */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata key holding the id of the data key a payload is encrypted with. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** Metadata key marking the stand-in the codec returns for a shredded payload. */
export const METADATA_SHREDDED = 'erasure-shredded';
/** Metadata key marking the stand-in the codec returns for a refused plaintext payload. */
export const METADATA_REFUSED = 'erasure-refused';

/**
 * Top-level keys that only engine-written payloads have (ErasureInput, SystemTask, CertificateRequest): never in
 * plaintext, and never encrypted again once their request's key is destroyed.
 */
const sealedOnlyKeys = ['subject', 'plan', 'carried', 'derived'] as const;

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

/** What decoding a refused plaintext payload yields, in place of what it said. */
export interface RefusedPayloadValue {
  refused: 'unsealed';
  message: string;
}

/**
 * The payload standing in for a refused one: plain JSON saying why, carrying nothing of the original. As a
 * workflow input it has no plan, so the workflow erases nothing; as a signal it is malformed, so the
 * workflow records it as rejected.
 */
export function refusedPayload(): Payload {
  const value: RefusedPayloadValue = {
    refused: 'unsealed',
    message: "refused: a request's subject or plan arrived unencrypted, so it was not sealed by the engine's codec (a workflow started by hand?)",
  };
  return {
    metadata: { encoding: utf8.encode('json/plain'), [METADATA_REFUSED]: utf8.encode('unsealed') },
    data: utf8.encode(JSON.stringify(value)),
  };
}

/** True for a payload produced by {@link refusedPayload}. */
export function isRefusedPayload(p: Payload): boolean {
  return metadataText(p, METADATA_REFUSED) === 'unsealed';
}

/** True for a JSON object with a key only request payloads have (subject, plan, carried state, derived identifiers). */
const hasSealedOnlyKey = (obj: Record<string, unknown> | undefined): boolean => obj !== undefined && sealedOnlyKeys.some((k) => Object.hasOwn(obj, k));

/** True for a plaintext payload carrying what only the engine writes, always encrypted. */
function carriesRequestData(p: Payload): boolean {
  return hasSealedOnlyKey(jsonObjectOf(p));
}

export interface EncryptionCodecOptions {
  /**
   * Replace plaintext payloads carrying a subject, plan or carried state by {@link refusedPayload} when
   * decoding (default true). Only the codec server turns it off: it shows operators what was sent.
   */
  refuseUnsealed?: boolean;
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
  private readonly refuseUnsealed: boolean;

  constructor(
    private readonly keys: KeyStore,
    opts: EncryptionCodecOptions = {},
  ) {
    this.refuseUnsealed = opts.refuseUnsealed ?? true;
  }

  /**
   * Encrypts each payload (see the module comment for which key). A payload that carries a `subject` (or what
   * only request payloads carry: `plan`, `carried`, `derived`) for a request whose key was already destroyed
   * is never encrypted as it is:
   *  - with a serialization context (the SDK encoding a worker's activation completion, an activity's
   *    result, a client's call), the payload is replaced by the {@link shreddedPayload} stand-in, encrypted
   *    under the default key. A worker re-encodes every command of a run when it replays it (a query on a
   *    closed workflow, a cache eviction), and a closed run may be shredded in the middle of such a replay;
   *    throwing there would fail the activation (for a workflow still running: every attempt of its
   *    workflow task, forever). A replayed command's payload is not compared with history, so the stand-in
   *    changes nothing; a new command (a running workflow whose key is gone) reaches its activity as the
   *    stand-in, which carries no subject, so nothing is erased with or shown of the identifiers.
   *  - without one (a direct call: the intake sealing a request's input, the codec server), it throws
   *    {@link DataKeyDestroyedError}, so a reused request id is refused before anything is started.
   */
  encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.encodeOne(p, context)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.decodeOne(p)));
  }

  /**
   * The key a payload goes under, and what to encrypt: the payload itself, or, for a payload carrying the
   * identifiers of a request whose key was destroyed, the shredded stand-in (see {@link EncryptionCodec.encode}).
   */
  private async keyFor(p: Payload, context: SerializationContext | undefined): Promise<{ key: DataKey; plaintext: Payload }> {
    const obj = jsonObjectOf(p);
    const named = obj?.requestId;
    const workflowId = context?.workflowId;
    const requestId =
      typeof named === 'string' && named !== ''
        ? named
        : workflowId?.startsWith(ERASURE_WORKFLOW_PREFIX) && workflowId.length > ERASURE_WORKFLOW_PREFIX.length
          ? workflowId.slice(ERASURE_WORKFLOW_PREFIX.length)
          : undefined;
    if (requestId === undefined) return { key: this.keys.defaultKey, plaintext: p };
    const k = await this.keys.requestKey(requestId);
    if (k.state === 'live') return { key: k.dataKey, plaintext: p };
    // After shredding, what a request still produces carries no identifiers (the certificate activity's
    // result, the workflow's result, audit events); it goes under the default key. Identifiers of a
    // shredded request are never encrypted again: with no SDK context (a direct call, the codec server) the
    // call is refused; for the SDK (a worker's commands, a client's call) they are replaced by the stand-in.
    if (!hasSealedOnlyKey(obj)) return { key: this.keys.defaultKey, plaintext: p };
    if (context === undefined) throw new DataKeyDestroyedError(requestId, k.keyId);
    return { key: this.keys.defaultKey, plaintext: shreddedPayload(k) };
  }

  private async encodeOne(p: Payload, context: SerializationContext | undefined): Promise<Payload> {
    if (metadataText(p, 'encoding') === ENCODING_ENCRYPTED) return p;
    const { key, plaintext: original } = await this.keyFor(p, context);
    const plaintext = temporal.api.common.v1.Payload.encode(original).finish();
    return {
      metadata: { encoding: utf8.encode(ENCODING_ENCRYPTED), [METADATA_KEY_ID]: utf8.encode(key.id) },
      data: seal(key.key, plaintext, payloadAad(key.id)),
    };
  }

  private async decodeOne(p: Payload): Promise<Payload> {
    if (metadataText(p, 'encoding') !== ENCODING_ENCRYPTED) return this.refuseUnsealed && carriesRequestData(p) ? refusedPayload() : p;
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
