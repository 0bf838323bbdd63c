-- Web console sessions (issue 13). Keep identical to migrations/postgres/0005_console_sessions.sql.
-- The cookie carries a random session secret; only its SHA-256 is stored here. The API token the
-- session acts with is sealed under the master key, bound to the row's id_hash.
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    role TEXT NOT NULL,
    sealed_token BLOB NOT NULL,
    -- 1 when the console bought the token with a password: signing out revokes it.
    owns_token BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at_ms);
