-- The transactional outbox for messages to Kafka: a message is inserted in the same transaction as the state
-- change it reports, and a relay publishes it later (at least once) and then deletes it. `event_id` is the
-- message's own id, stable across retries, so consumers can deduplicate. Messages on shared topics never
-- carry identifiers; a consumer's private topic may (only the names its catalog entry lists), which is why a
-- row does not outlive its publication.
CREATE TABLE event_outbox (
  id           bigserial PRIMARY KEY,
  event_id     text NOT NULL UNIQUE,
  topic        text NOT NULL,
  message_key  text NOT NULL,
  value        jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text NULL
);
