-- Notifications (e-mail over SMTP, signed chat webhooks) wait here until they are delivered (src/notify). An
-- activity queues one in its own transaction under a stable id, so a retried activity queues it once; the
-- worker's dispatcher claims due rows with a short lease (FOR UPDATE SKIP LOCKED, so two workers never send the
-- same row at once), sends each on its own, and marks it sent, or due again later with the error (backoff), or
-- failed for good with the reason. A message never holds an identifier of the subject; a webhook target is
-- named by its catalog entry (`system:<id>`, `consumer:<id>`, `escalation`), never by its URL or secret, which
-- the dispatcher reads from its own catalog when it sends.
CREATE TABLE notification_outbox (
  id               bigserial PRIMARY KEY,
  notification_id  text NOT NULL UNIQUE,
  request_id       text NOT NULL,
  kind             text NOT NULL,
  channel          text NOT NULL CHECK (channel IN ('email', 'webhook')),
  target           text NOT NULL,
  message          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  claimed_until    timestamptz NULL,
  last_error       text NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz NULL
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_outbox_request ON notification_outbox (request_id);
