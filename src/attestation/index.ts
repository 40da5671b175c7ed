/**
 * Operator attestation: how the engine tells an action an authenticated API caller sent from one that
 * anybody with access to Temporal could have sent.
 *
 * The API, having checked the caller's API key, claims "key `name` sent `signal` on `requestId` for this
 * target at `issuedAt`" and seals the claim with an HMAC under a key derived from the master key, which only
 * engine processes hold. The claim travels with the action into the workflow. The worker checks it when it
 * writes the action to the ledger and when it issues the certificate: a valid claim makes the action
 * `via: api` by `actor: name`; a missing one makes it `via: temporal` (unauthenticated); a forged, altered
 * or stale one is recorded as `via: temporal` with `claimRejected`.
 *
 * A claim is bound to the request, the action, the key name, the target (system, consumer, outcome, days)
 * and its time; the action's recorded time must fall within {@link CLAIM_WINDOW_MS} of it, so a claim read
 * from one request's history proves nothing on another request, target, or later day.
 */
import { createHmac, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { actorClaimSchema, type ActionArrival, type ActionAttestation, type ActorClaim, type AttestedFields } from '../domain';

/** How far an action's recorded time may lie after (or, for clock skew, before) its claim's time. */
export const CLAIM_WINDOW_MS = 10 * 60_000;
const SKEW_MS = 60_000;
const INFO = 'erasure-engine/operator-attestation/v1';
const fieldOrder = ['system', 'consumer', 'status', 'days'] as const satisfies ReadonlyArray<keyof AttestedFields>;

/** What one claim covers. */
export interface ClaimSubject {
  requestId: string;
  signal: string;
  fields: AttestedFields;
}

/** The action a kept attestation came with, as the ledger or the certificate records it. */
export interface RecordedAction {
  requestId: string;
  signal: string;
  /** ISO time the workflow recorded the action. */
  at: string;
  /** The target as recorded (a receipt's system, a ledger entry's fields): must equal the attested one. */
  target?: AttestedFields;
}

export interface Attestor {
  /** The API's claim that key `name` sends this action now. */
  claim(subject: ClaimSubject, name: string, now?: Date): ActorClaim;
  /**
   * Checks a kept attestation against the action it came with, recorded at `at` (ISO) on `requestId`.
   * Never throws: anything that does not verify is an unauthenticated arrival.
   */
  arrival(attestation: ActionAttestation | undefined, action: RecordedAction): ActionArrival;
}

/**
 * Builds the attestor from the engine's master key (src/codec/keys.ts `loadMasterKey`).
 * @example const attestor = createAttestor(masterKey.key); attestor.claim({ requestId, signal: 'cancel', fields: {} }, 'ops');
 */
export function createAttestor(masterKey: KeyObject): Attestor {
  const key = Buffer.from(hkdfSync('sha256', masterKey.export(), Buffer.alloc(0), INFO, 32));
  const mac = (subject: ClaimSubject, name: string, issuedAt: string) =>
    createHmac('sha256', key)
      // A JSON array in a fixed order is unambiguous: every part keeps its place, absent ones are null.
      .update(JSON.stringify([1, subject.requestId, subject.signal, name, issuedAt, ...fieldOrder.map((k) => subject.fields[k] ?? null)]))
      .digest('base64url');
  return {
    claim(subject, name, now = new Date()) {
      const issuedAt = now.toISOString();
      return { name, issuedAt, mac: mac(subject, name, issuedAt) };
    },
    arrival(attestation, action) {
      if (attestation === undefined) return { via: 'temporal' };
      const parsed = actorClaimSchema.safeParse({ name: attestation.name, issuedAt: attestation.issuedAt, mac: attestation.mac });
      if (!parsed.success || typeof attestation.fields !== 'object' || attestation.fields === null) return { via: 'temporal', claimRejected: true };
      const { name, issuedAt } = parsed.data;
      const expected = Buffer.from(mac({ requestId: action.requestId, signal: action.signal, fields: attestation.fields }, name, issuedAt), 'base64url');
      const given = Buffer.from(parsed.data.mac, 'base64url');
      const lag = Date.parse(action.at) - Date.parse(issuedAt);
      const fresh = Number.isFinite(lag) && lag >= -SKEW_MS && lag <= CLAIM_WINDOW_MS;
      const sameTarget = Object.entries(action.target ?? {}).every(([k, v]) => v === undefined || attestation.fields[k as keyof AttestedFields] === v);
      if (given.length !== expected.length || !timingSafeEqual(given, expected) || !fresh || !sameTarget) return { via: 'temporal', claimRejected: true };
      return { via: 'api', actor: name };
    },
  };
}
