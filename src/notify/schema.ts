/**
 * The catalog's `notify` block: who hears of an erasure, by e-mail and by a signed chat webhook. It appears
 * on each system (its owner), on each consumer, and under `escalation:` at the catalog's root (the contacts
 * escalations, overdue requests and requests needing an operator go to). Pure zod, no I/O.
 *
 * The webhook's URL and secret follow the webhook systems' convention: written as `${VAR}` references, read
 * from the worker's environment, never entering a plan or the notification queue.
 */
import { z } from 'zod';

/** A `${VAR}` reference left in place (a catalog parsed without interpolation) passes the format checks. */
const isReference = (s: string) => s.includes('${');

/** One e-mail address, as a mail server takes it (`team@corp.example`, no display name). */
export const emailAddress = z
  .string()
  .refine((s) => isReference(s) || z.email().safeParse(s).success, 'must be an e-mail address such as billing-team@corp.example');

const webhookUrl = z.string().refine((s) => {
  if (isReference(s)) return true;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

/** A Slack-compatible chat webhook: JSON `{text, blocks}` POSTed and signed like the webhook systems' calls. */
export const notifyWebhookSchema = z
  .object({
    url: webhookUrl,
    /** HMAC-SHA256 signing secret of the body, usually `${VAR}`. */
    secret: z.string().min(16, 'must be at least 16 characters'),
  })
  .strict();

/**
 * Where one party's notifications go: e-mail addresses, a chat webhook, or both.
 * @example notifyTargetsSchema.parse({ email: ['billing-team@corp.example'] })
 */
export const notifyTargetsSchema = z
  .object({
    email: z
      .array(emailAddress)
      .min(1, 'list at least one address, or leave the key out')
      .refine((list) => new Set(list.map((a) => a.toLowerCase())).size === list.length, 'lists an address twice')
      .optional(),
    webhook: notifyWebhookSchema.optional(),
  })
  .strict()
  .refine((n) => n.email !== undefined || n.webhook !== undefined, 'give email: [...], webhook: {url, secret}, or both');

/** The catalog root's `escalation:` block: the contacts of escalations, overdue requests and `needs_attention`. */
export const escalationSchema = z.object({ notify: notifyTargetsSchema }).strict();

export type NotifyTargets = z.infer<typeof notifyTargetsSchema>;
export type NotifyWebhook = z.infer<typeof notifyWebhookSchema>;
