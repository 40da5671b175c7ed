-- Systems paused for every request (src/use-cases/pause.ts): while a row is here, the worker's erase and verify
-- activities for that system touch nothing and the lanes wait. The log keeps every pause and resume with the
-- API key that sent it, for the audit trail.
--   system_id  the catalog id of the system
--   paused_by  the API key's name
--   reason     the operator's short reason (maintenance, a broken connector); no personal data belongs here
CREATE TABLE system_pauses (
  system_id text PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now(),
  paused_by text NOT NULL,
  reason    text NOT NULL
);

CREATE TABLE system_pause_log (
  id         bigserial PRIMARY KEY,
  system_id  text NOT NULL,
  action     text NOT NULL CHECK (action IN ('paused', 'resumed')),
  actor      text NOT NULL,
  reason     text NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  -- How many running requests were told at once (the others find out when their lane looks again).
  notified   integer NULL
);
CREATE INDEX system_pause_log_system ON system_pause_log (system_id, id);
