-- Protection policies (issue 15), PostgreSQL dialect; keep identical to
-- migrations/sqlite/0006_policies.sql. A policy's rules are stored as given and returned,
-- never enforced: wafcert manages certificates, not traffic.

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    -- JSON: level, full_detection, robot_action, action, options, modulex_options.
    settings TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX policies_listing ON policies (project_id, created_at_ms DESC, id DESC);

-- The policy a host uses (NULL for hosts created before policies existed).
ALTER TABLE hosts ADD COLUMN policy_id TEXT REFERENCES policies (id);
CREATE INDEX hosts_policy ON hosts (policy_id);

-- A copy of settings.protect_status for the list filter, written by the same statements that
-- write `settings`.
ALTER TABLE hosts ADD COLUMN protect_status BIGINT NOT NULL DEFAULT 1;
UPDATE hosts SET protect_status = (settings::json ->> 'protect_status')::BIGINT;
