/**
 * Which requests a decode revealed: the audit trail records a request only when the codec server actually
 * decrypted one of its payloads. A payload sent in plaintext reveals nothing new, a shredded one decodes to
 * its stand-in, and one under the default key belongs to no request.
 */
import type { Payload } from '@temporalio/common';
import { ENCODING_ENCRYPTED, METADATA_KEY_ID, isShreddedPayload } from './codec';
import type { KeyStore } from './keys';

const fromUtf8 = new TextDecoder();
const metadataText = (p: Payload, key: string) => (p.metadata?.[key] ? fromUtf8.decode(p.metadata[key]) : undefined);

/**
 * Counts, per request id, the payloads of `sent` that decoded to their plaintext in `decoded` (same order).
 * The key lookups hit the key store's cache: the decode has just loaded the same keys.
 * @example const revealed = await requestsRevealed(keyStore, payloads, await codec.decode(payloads)); // Map { 'req-1' => 2 }
 */
export async function requestsRevealed(keys: KeyStore, sent: readonly Payload[], decoded: readonly Payload[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const [i, p] of sent.entries()) {
    if (metadataText(p, 'encoding') !== ENCODING_ENCRYPTED || isShreddedPayload(decoded[i])) continue;
    const keyId = metadataText(p, METADATA_KEY_ID);
    if (!keyId) continue;
    const found = await keys.lookup(keyId);
    // A key destroyed since the decode opened the payload still counts: its plaintext is in this answer.
    const requestId = found.state === 'live' ? found.dataKey.requestId : found.state === 'destroyed' ? found.requestId : null;
    if (requestId !== null) counts.set(requestId, (counts.get(requestId) ?? 0) + 1);
  }
  return counts;
}
