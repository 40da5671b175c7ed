-- Public parts of every key that ever signed a certificate. Rows are never deleted, and only retired_at
-- may change, so a certificate signed before a key rotation still verifies against the published keys.

CREATE TABLE signing_keys (
  key_id     text PRIMARY KEY,
  algorithm  text NOT NULL DEFAULT 'Ed25519',
  public_jwk jsonb NOT NULL,
  public_pem text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz NULL
);

CREATE FUNCTION signing_keys_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND NEW.key_id = OLD.key_id
     AND NEW.algorithm = OLD.algorithm
     AND NEW.public_jwk = OLD.public_jwk
     AND NEW.public_pem = OLD.public_pem
     AND NEW.created_at = OLD.created_at THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'signing keys are kept forever: % of a key''s public part is refused (only retired_at may change)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER signing_keys_keep
  BEFORE UPDATE OR DELETE ON signing_keys
  FOR EACH ROW EXECUTE FUNCTION signing_keys_guard();

CREATE TRIGGER signing_keys_no_truncate
  BEFORE TRUNCATE ON signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION signing_keys_guard();
