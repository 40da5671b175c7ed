/**
 * What operators may do to an open request, with the schema of each payload. The workflow validates
 * raw JSON from CLIs with these, and the API validates its HTTP twins with the same schemas.
 */
import { z } from 'zod';
import { consumerOutcomes } from './statuses';
import { notBlankPattern } from './subject';

// The pattern adds nothing once min(1) has passed on the trimmed value (abort keeps the one message for a
// blank value); it is there so the API's document says that a blank value is refused.
const text = (max: number) => z.string().trim().min(1, { abort: true }).max(max).regex(notBlankPattern, 'must not be blank');

export const confirmDeletionSchema = z.object({
  system: text(128),
  confirmedBy: text(256),
  reference: text(512).optional(),
  note: text(2000).optional(),
});
export const consumerCompletedSchema = z.object({
  consumer: text(128),
  status: z.enum(consumerOutcomes),
  note: text(2000).optional(),
});
export const placeLegalHoldSchema = z.object({ reason: text(2000), placedBy: text(256) });
export const releaseLegalHoldSchema = z.object({ releasedBy: text(256) });
export const extendDeadlineSchema = z.object({ days: z.number().int().positive().max(366), reason: text(2000) });
export const cancelSchema = z.object({ reason: text(2000) });
export const retrySystemSchema = z.object({ system: text(128) });

export type ConfirmDeletion = z.infer<typeof confirmDeletionSchema>;
export type ConsumerCompleted = z.infer<typeof consumerCompletedSchema>;
export type PlaceLegalHold = z.infer<typeof placeLegalHoldSchema>;
export type ReleaseLegalHold = z.infer<typeof releaseLegalHoldSchema>;
export type ExtendDeadline = z.infer<typeof extendDeadlineSchema>;
export type Cancel = z.infer<typeof cancelSchema>;
export type RetrySystem = z.infer<typeof retrySystemSchema>;

/** Each operator action (a signal's name) with the schema of its payload. */
export const operatorActionSchemas = {
  confirmDeletion: confirmDeletionSchema,
  consumerCompleted: consumerCompletedSchema,
  placeLegalHold: placeLegalHoldSchema,
  releaseLegalHold: releaseLegalHoldSchema,
  extendDeadline: extendDeadlineSchema,
  cancel: cancelSchema,
  retrySystem: retrySystemSchema,
} as const;
export type OperatorActionName = keyof typeof operatorActionSchemas;
export type OperatorActionPayloads = { [K in OperatorActionName]: z.infer<(typeof operatorActionSchemas)[K]> };

/** What an operator action produced: accepted, or refused with the reason (the state forbids it). */
export interface OperatorActionResult {
  accepted: boolean;
  reason?: string;
}

// ---------------------------------------------------------------------------------------------------
// Who acted, and how the action arrived. The API names the authenticated API key and seals that claim
// with a MAC only engine processes can make (src/attestation); a signal sent straight to Temporal carries
// none. The workflow keeps the claim as it came; the worker's ledger writer and certificate issuer check
// it, so a forged claim is recorded as what it is: an unauthenticated action that arrived via Temporal.
// ---------------------------------------------------------------------------------------------------

/** How an action reached the workflow, once its claim is checked. */
export const actionChannels = ['api', 'temporal'] as const;
export type ActionChannel = (typeof actionChannels)[number];

/** The fields of a payload that an attestation binds, besides the request and the action. */
export interface AttestedFields {
  system?: string;
  consumer?: string;
  status?: string;
  days?: number;
}

/**
 * The target of an action as an attestation binds it: which system or consumer, which outcome, how many
 * days. Free text (notes, reasons) is not bound. Pure, so the API and the workflow compute the same.
 * @example attestedFields('confirmDeletion', { system: 'crm', confirmedBy: 'ana' }) // { system: 'crm' }
 */
export function attestedFields(payload: unknown): AttestedFields {
  const p = (payload ?? {}) as Record<string, unknown>;
  const out: AttestedFields = {};
  if (typeof p.system === 'string') out.system = p.system.trim();
  if (typeof p.consumer === 'string') out.consumer = p.consumer.trim();
  if (typeof p.status === 'string') out.status = p.status;
  if (typeof p.days === 'number') out.days = p.days;
  return out;
}

/** A bulk action's batch id (src/use-cases/bulk.ts): its Temporal batch job id, `bulk-<uuid>`. */
export const bulkBatchIdPattern = /^bulk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The API's claim about who sent an action: the API key's name, when, and the MAC over both and the target.
 * A bulk action's claim also names its `batch`: one claim then goes to every request of the batch, and its
 * MAC binds the batch instead of the request (the ledger says which requests the batch holds).
 */
export const actorClaimSchema = z.strictObject({
  name: z.string().min(1).max(128),
  issuedAt: z.iso.datetime({ offset: true }),
  mac: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url HMAC-SHA256'),
  batch: z.string().regex(bulkBatchIdPattern, 'must be a bulk batch id (bulk-<uuid>)').optional(),
});
export type ActorClaim = z.infer<typeof actorClaimSchema>;

/** A claim as the workflow keeps it: with the target it applied the action to, for the checker to bind. */
export interface ActionAttestation extends ActorClaim {
  fields: AttestedFields;
}

/**
 * The batch ids the given attestations claim, once each (well-formed ones only): what the ledger writer and
 * the certificate issuer look up in the ledger before they check those claims (src/attestation).
 * @example const ids = claimedBatches(entries.map((e) => e.attestation));
 */
export function claimedBatches(attestations: ReadonlyArray<ActionAttestation | undefined>): string[] {
  const ids = new Set<string>();
  for (const a of attestations) if (a && typeof a.batch === 'string' && bulkBatchIdPattern.test(a.batch)) ids.add(a.batch);
  return [...ids];
}

/** What the checker concluded about one action: `actor` only when the claim verified. */
export interface ActionArrival {
  via: ActionChannel;
  actor?: string;
  /** Set when a claim came with the action but did not verify (forged, altered, replayed late). */
  claimRejected?: true;
  /** The bulk action's batch id, when the action came with a verified batch claim. */
  batch?: string;
}
