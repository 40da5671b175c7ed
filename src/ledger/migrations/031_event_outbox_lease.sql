-- The relay claims outbox rows with a short lease instead of holding their row locks while it waits for
-- Kafka: a broker that is down or slow must never make a state change that writes to the outbox wait (an
-- INSERT … ON CONFLICT on a locked row's event id would), and a relay that dies frees its claim on expiry.
ALTER TABLE event_outbox ADD COLUMN claimed_until timestamptz NULL;
