/**
 * Webhooks: a signed POST to the system's owner, who answers 2xx (response mode) or confirms later with a
 * signal (./connector.ts). The plan keeps what the receiver is sent and how it confirms; the URL and the
 * signing secret stay in the worker.
 */
import { checkThrough, defineSystem } from '../descriptor';
import { webhookSystemSchema, type WebhookSystem } from './schema';

const connector = (system: WebhookSystem) => (require('./connector') as typeof import('./connector')).webhookConnector(system);

export const webhook = defineSystem({
  kind: 'webhook',
  schema: webhookSystemSchema,
  planFields: ['send', 'confirmation'],
  // A webhook URL often carries a token in its path or query (https://hooks.example/T0/B0/XXXX).
  secrets: ['url', 'secret'],
  plan: (system) => ({
    mode: system.confirmation === 'signal' ? 'confirmation' : 'automated',
    softDelete: false,
    notify: true,
    reminderEveryDays: system.reminderEvery,
  }),
  connector,
  check: checkThrough(connector),
});

export type { WebhookSystem } from './schema';
