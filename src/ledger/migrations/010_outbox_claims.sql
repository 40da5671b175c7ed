-- The outbox relay claims queued requests with a short lease instead of holding row locks while it calls
-- Temporal: a slow or failing start must never block the request's own workflow from updating its row.
ALTER TABLE requests ADD COLUMN relay_claimed_until timestamptz NULL;
CREATE INDEX requests_queued ON requests (received_at) WHERE workflow_started_at IS NULL;
