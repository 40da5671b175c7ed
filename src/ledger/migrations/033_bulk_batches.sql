-- Bulk operator actions (src/use-cases/bulk.ts): one row per batch the API sent through a Temporal batch
-- operation, and the requests it was sent to. The batch is recorded before Temporal is asked to run it, so
-- the ledger writer and the certificate issuer can tell a batch claim that reached a request in the batch
-- (attributed to its key) from the same claim replayed by hand on any other request (claim rejected).
--   batch_id    the batch job id in Temporal (bulk-<uuid>)
--   actor       the API key's name that sent it
--   signal      the signal every request received (confirmDeletion, retrySystem, extendDeadline, …)
--   fields      the target the claim binds (system, days, …), as src/domain attestedFields computes it
--   query       the visibility query the requests were listed with (the selection, as Temporal read it)
--   created_at  the claim's issuedAt: the time a batch claim's freshness is counted from
--   start_error Temporal's refusal when the batch could not be started (nothing was sent)
CREATE TABLE bulk_batches (
  batch_id      text PRIMARY KEY CHECK (batch_id ~ '^bulk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  actor         text NOT NULL,
  signal        text NOT NULL,
  fields        jsonb NOT NULL,
  query         text NOT NULL,
  request_count integer NOT NULL CHECK (request_count >= 1),
  created_at    timestamptz NOT NULL,
  start_error   text NULL
);

CREATE TABLE bulk_batch_requests (
  batch_id   text NOT NULL REFERENCES bulk_batches (batch_id),
  request_id text NOT NULL REFERENCES requests (request_id),
  PRIMARY KEY (batch_id, request_id)
);
CREATE INDEX bulk_batch_requests_request ON bulk_batch_requests (request_id);

-- Who was in a batch is written once, with the batch, in one transaction; the trigger refuses to change or
-- remove it afterwards, as certificates are kept (a superuser disabling the trigger on purpose gets past it).
CREATE FUNCTION bulk_batch_requests_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'bulk batch membership is append-only: % on bulk_batch_requests is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER bulk_batch_requests_append_only
  BEFORE UPDATE OR DELETE ON bulk_batch_requests
  FOR EACH ROW EXECUTE FUNCTION bulk_batch_requests_refuse_change();
