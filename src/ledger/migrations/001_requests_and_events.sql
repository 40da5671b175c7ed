-- Erasure requests as the intake accepted them, and the audit trail of every step and operator action.
-- Neither table holds identifiers: a subject appears only as subject_ref (a keyed hash).

CREATE TABLE requests (
  request_id          text PRIMARY KEY,
  workflow_id         text NOT NULL,
  subject_ref         text NOT NULL,
  jurisdiction        text NOT NULL,
  status              text NOT NULL,
  body_hash           text NOT NULL,
  received_at         timestamptz NOT NULL,
  deadline            timestamptz NOT NULL,
  workflow_started_at timestamptz NULL,
  completed_at        timestamptz NULL,
  certificate_id      text NULL,
  pending_input       jsonb NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX requests_status_deadline ON requests (status, deadline);

CREATE TABLE events (
  id         bigserial PRIMARY KEY,
  request_id text NOT NULL,
  type       text NOT NULL,
  detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
  at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_request ON events (request_id, id);
