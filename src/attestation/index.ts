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
 *
 * A bulk action (src/use-cases/bulk.ts) sends one signal, with one claim, to every request of a Temporal
 * batch operation, so its claim cannot name the request: it names the batch instead ("key `name` sent
 * `signal` for this target to batch `batch` at `issuedAt`"). The ledger records the batch, and the requests
 * it was sent to, before Temporal runs it; a batch claim verifies only on a request the caller shows to be
 * in that recorded batch ({@link BatchRecord}), within {@link BATCH_CLAIM_WINDOW_MS} of the batch's time.
 */
import { createHmac, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { actorClaimSchema, type ActionArrival, type ActionAttestation, type ActorClaim, type AttestedFields } from '../domain';

/** How far an action's recorded time may lie after (or, for clock skew, before) its claim's time. */
export const CLAIM_WINDOW_MS = 10 * 60_000;
/**
 * The same for a batch claim, counted from the batch's recorded time: Temporal signals a batch's requests at
 * a bounded rate (its `worker.batcherRPS`), so a batch of 10,000 may still be arriving many minutes later.
 */
export const BATCH_CLAIM_WINDOW_MS = 60 * 60_000;
const SKEW_MS = 60_000;
const INFO = 'erasure-engine/operator-attestation/v1';
const fieldOrder = ['system', 'consumer', 'status', 'days'] as const satisfies ReadonlyArray<keyof AttestedFields>;

/** What one claim covers. */
export interface ClaimSubject {
  requestId: string;
  signal: string;
  fields: AttestedFields;
}

/** What one batch claim covers: every request of the batch gets the same signal for the same target. */
export interface BatchClaimSubject {
  batchId: string;
  signal: string;
  fields: AttestedFields;
}

/** A batch as the ledger recorded it, known to hold the request an action was recorded on (src/ledger/batches.ts). */
export interface BatchRecord {
  batchId: string;
  /** The API key's name that sent it. */
  actor: string;
  signal: string;
  /** ISO time the batch was recorded: its claim's `issuedAt`. */
  createdAt: string;
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
  /** The API's claim that key `name` sends this action to every request of batch `batchId` now. */
  claimBatch(subject: BatchClaimSubject, name: string, now?: Date): ActorClaim;
  /**
   * Checks a kept attestation against the action it came with, recorded at `at` (ISO) on `requestId`.
   * `batches` are the recorded batches that hold `requestId`, by id (the caller reads them from the ledger):
   * a batch claim verifies only when its batch is among them. Never throws: anything that does not verify is
   * an unauthenticated arrival.
   */
  arrival(attestation: ActionAttestation | undefined, action: RecordedAction, batches?: ReadonlyMap<string, BatchRecord>): ActionArrival;
}

/**
 * Builds the attestor from the engine's master key (src/codec/keys.ts `loadMasterKey`).
 * @example const attestor = createAttestor(masterKey.key); attestor.claim({ requestId, signal: 'cancel', fields: {} }, 'ops');
 */
export function createAttestor(masterKey: KeyObject): Attestor {
  const key = Buffer.from(hkdfSync('sha256', masterKey.export(), Buffer.alloc(0), INFO, 32));
  // A JSON array in a fixed order is unambiguous: every part keeps its place, absent ones are null. The
  // per-request format starts with 1, the batch format with 'batch/1', so neither can pass for the other.
  const hmac = (parts: unknown[]) => createHmac('sha256', key).update(JSON.stringify(parts)).digest('base64url');
  const targetOf = (fields: AttestedFields) => fieldOrder.map((k) => fields[k] ?? null);
  const mac = (subject: ClaimSubject, name: string, issuedAt: string) => hmac([1, subject.requestId, subject.signal, name, issuedAt, ...targetOf(subject.fields)]);
  const batchMac = (subject: BatchClaimSubject, name: string, issuedAt: string) => hmac(['batch/1', subject.batchId, subject.signal, name, issuedAt, ...targetOf(subject.fields)]);
  const rejected: ActionArrival = { via: 'temporal', claimRejected: true };
  return {
    claim(subject, name, now = new Date()) {
      const issuedAt = now.toISOString();
      return { name, issuedAt, mac: mac(subject, name, issuedAt) };
    },
    claimBatch(subject, name, now = new Date()) {
      const issuedAt = now.toISOString();
      return { name, issuedAt, mac: batchMac(subject, name, issuedAt), batch: subject.batchId };
    },
    arrival(attestation, action, batches) {
      if (attestation === undefined) return { via: 'temporal' };
      const { name: claimedName, issuedAt: claimedAt, mac: claimedMac, batch: claimedBatch } = attestation;
      const parsed = actorClaimSchema.safeParse({ name: claimedName, issuedAt: claimedAt, mac: claimedMac, ...(claimedBatch === undefined ? {} : { batch: claimedBatch }) });
      if (!parsed.success || typeof attestation.fields !== 'object' || attestation.fields === null) return rejected;
      const { name, issuedAt, batch } = parsed.data;
      const fields = attestation.fields;
      const sameTarget = Object.entries(action.target ?? {}).every(([k, v]) => v === undefined || fields[k as keyof AttestedFields] === v);
      if (!sameTarget) return rejected;
      const lag = Date.parse(action.at) - Date.parse(issuedAt);
      if (batch === undefined) {
        const fresh = Number.isFinite(lag) && lag >= -SKEW_MS && lag <= CLAIM_WINDOW_MS;
        if (!fresh || !macEquals(parsed.data.mac, mac({ requestId: action.requestId, signal: action.signal, fields }, name, issuedAt))) return rejected;
        return { via: 'api', actor: name };
      }
      // A batch claim: the ledger must hold this request in that batch, sent by that key, as that signal, at that time.
      const recorded = batches?.get(batch);
      const asRecorded =
        recorded !== undefined && recorded.actor === name && recorded.signal === action.signal && Date.parse(recorded.createdAt) === Date.parse(issuedAt);
      const fresh = Number.isFinite(lag) && lag >= -SKEW_MS && lag <= BATCH_CLAIM_WINDOW_MS;
      if (!asRecorded || !fresh || !macEquals(parsed.data.mac, batchMac({ batchId: batch, signal: action.signal, fields }, name, issuedAt))) return rejected;
      return { via: 'api', actor: name, batch };
    },
  };
}

/** Constant-time comparison of a given MAC with the expected one (both base64url). */
function macEquals(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'base64url');
  const b = Buffer.from(expected, 'base64url');
  return a.length === b.length && timingSafeEqual(a, b);
}
