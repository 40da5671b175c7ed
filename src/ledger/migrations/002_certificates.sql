-- The certificate ledger: append-only and hash-chained.
--   sequence      gapless issue order, assigned under the chain's advisory lock (1, 2, 3, …)
--   hash          SHA-256 (hex) of the certificate's RFC 8785 canonical JSON, signature included
--   previous_hash the hash of certificate sequence - 1; NULL only for the first certificate
-- The constraints make a fork impossible even for a writer that skips the lock: two certificates cannot
-- claim the same predecessor, nor the same place in the sequence.

CREATE TABLE certificates (
  sequence       bigint PRIMARY KEY CHECK (sequence >= 1),
  certificate_id text NOT NULL UNIQUE,
  request_id     text NOT NULL UNIQUE,
  certificate    jsonb NOT NULL,
  hash           text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  previous_hash  text NULL UNIQUE CHECK (previous_hash ~ '^[0-9a-f]{64}$'),
  key_id         text NOT NULL,
  issued_at      timestamptz NOT NULL,
  CHECK ((sequence = 1) = (previous_hash IS NULL))
);

-- Refuse every change to an issued certificate. Only a superuser who disables the trigger on purpose
-- (ALTER TABLE … DISABLE TRIGGER, or session_replication_role = replica) gets past it, and the chain
-- check then reports what was done.
CREATE FUNCTION certificates_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'certificates are append-only: % on certificates is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'issued certificates can never be changed or removed; issue a new one instead';
END
$$;

CREATE TRIGGER certificates_append_only
  BEFORE UPDATE OR DELETE ON certificates
  FOR EACH ROW EXECUTE FUNCTION certificates_refuse_change();

CREATE TRIGGER certificates_no_truncate
  BEFORE TRUNCATE ON certificates
  FOR EACH STATEMENT EXECUTE FUNCTION certificates_refuse_change();
