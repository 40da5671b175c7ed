-- Payload encryption keys (see docs/pii.md). Every payload the engine hands to Temporal is encrypted with
-- a data key: one per erasure request, plus one default key for payloads that belong to no request.
-- Data keys are stored only wrapped (AES-256-GCM) under the master key, which never enters the database.
--   data_keys            live keys; a request's row is DELETED once its certificate is stored (crypto-shredding)
--   destroyed_data_keys  tombstones: which key ids were destroyed, so the codec can say "shredded" instead of
--                        "unknown key", and so a destroyed request never silently gets a fresh key
--   master_key_check     a known value encrypted under the master key, so a wrong master key fails at start-up
-- None of these tables holds identifiers: only request ids, random key ids and ciphertext.

CREATE TABLE data_keys (
  key_id      text PRIMARY KEY,
  -- NULL for the default key; at most one row per request.
  request_id  text NULL UNIQUE,
  -- version byte || IV (12) || ciphertext (32) || GCM tag (16), authenticated with the key id.
  wrapped_key bytea NOT NULL CHECK (length(wrapped_key) = 61),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Exactly one default key: a second NULL request_id would pass the UNIQUE constraint above.
CREATE UNIQUE INDEX data_keys_single_default ON data_keys ((request_id IS NULL)) WHERE request_id IS NULL;

-- Losing the default key would make every result, signal and failure in Temporal unreadable.
CREATE FUNCTION data_keys_keep_default() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.request_id IS NULL THEN
    RAISE EXCEPTION 'the default data key cannot be deleted or changed'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'only a request''s data key is destroyed, by crypto-shredding after its certificate is stored';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER data_keys_keep_default
  BEFORE UPDATE OR DELETE ON data_keys
  FOR EACH ROW EXECUTE FUNCTION data_keys_keep_default();

CREATE TABLE destroyed_data_keys (
  key_id       text PRIMARY KEY,
  request_id   text NOT NULL UNIQUE,
  destroyed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE master_key_check (
  id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  check_value bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
