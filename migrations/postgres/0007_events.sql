-- The event log (issue 11): one row per change to a project's certificates and hosts, written in
-- the changing transaction, plus the scheduler's expiry events. The same rows are the audit
-- trail and the webhook outbox. Keep identical to migrations/sqlite/0007_events.sql.

CREATE TABLE events (
    -- Insertion order: newest first is `seq DESC` (event time follows the movable clock).
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects (id),
    type TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- JSON object; never key material.
    data TEXT NOT NULL,
    -- 'none' (no webhook configured when recorded), 'pending', 'delivered' or 'failed'.
    delivery_state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- HTTP status of the last attempt, 0 when the receiver could not be reached.
    last_status BIGINT,
    -- Real time (not the certificate clock) of the next attempt.
    next_attempt_ms BIGINT,
    -- A replica delivering the event holds it until then (real time).
    lease_until_ms BIGINT
);
CREATE INDEX events_project ON events (project_id, seq DESC);
CREATE INDEX events_project_type ON events (project_id, type, seq DESC);
CREATE INDEX events_project_subject ON events (project_id, subject, seq DESC);
CREATE INDEX events_outbox ON events (next_attempt_ms) WHERE delivery_state = 'pending';

-- The smallest expiry threshold (days) whose event was emitted for the certificate, 0 once
-- `expired` was emitted, NULL before any: the conditional update of this column makes each
-- expiry event happen once across replicas, restarts and renames.
ALTER TABLE certificates ADD COLUMN expiry_stage BIGINT;
-- The scheduler and /metrics look across projects by expiry.
CREATE INDEX certificates_expire_time ON certificates (expire_time_ms);

-- The scheduler's `expiry_stage` updates are invisible through the API: they must not bump the
-- project version (which would empty the read caches), nor lock the project row (which, with
-- several certificates per scheduler transaction, could deadlock with an API write that
-- locked a certificate first). Only updates of the other columns bump it.
DROP TRIGGER certificates_bump_version ON certificates;
CREATE TRIGGER certificates_bump_version
    AFTER INSERT OR DELETE OR UPDATE OF id, project_id, name, name_lower, content, sealed_key,
        expire_time_ms, created_at_ms ON certificates
    FOR EACH ROW EXECUTE FUNCTION bump_project_version();
