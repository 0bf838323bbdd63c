-- wafcert schema, PostgreSQL dialect. Keep tables, columns and index names identical to
-- migrations/sqlite/0001_init.sql: the storage layer runs the same SQL on both.
-- Times are epoch milliseconds (BIGINT); ids are 32 lowercase hex characters (TEXT).

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain TEXT NOT NULL,
    certificate_count BIGINT NOT NULL DEFAULT 0,
    -- Bumped (by the triggers at the end) by every write to the project's certificates or
    -- hosts, in the writing transaction: replicas tag cached reads with it to know when they
    -- are stale.
    version BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_domain_name ON projects (domain, name);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_domain_name ON users (domain, name);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    role TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    revoked BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE access_keys (
    access_key TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    role TEXT NOT NULL,
    sealed_secret BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    content TEXT NOT NULL,
    sealed_key BYTEA NOT NULL,
    expire_time_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX certificates_project_name ON certificates (project_id, name);
-- Serves the newest-first page and, being covering, filters by name and expiry without
-- touching the wide rows.
CREATE INDEX certificates_listing
    ON certificates (project_id, created_at_ms DESC, id DESC, name_lower, expire_time_ms);
CREATE INDEX certificates_expiry ON certificates (project_id, expire_time_ms);

CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    hostname TEXT NOT NULL,
    certificate_id TEXT REFERENCES certificates (id),
    settings TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX hosts_project_hostname ON hosts (project_id, hostname);
CREATE INDEX hosts_certificate ON hosts (certificate_id);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Substring ("fuzzy") name search at scale: trigram index for LIKE '%x%'.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX certificates_name_trgm ON certificates USING gin (name_lower gin_trgm_ops);

-- Every write to a project's certificates or hosts bumps the project's version.
CREATE FUNCTION bump_project_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE projects SET version = version + 1 WHERE id = OLD.project_id;
    ELSE
        UPDATE projects SET version = version + 1 WHERE id = NEW.project_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER certificates_bump_version AFTER INSERT OR UPDATE OR DELETE ON certificates
    FOR EACH ROW EXECUTE FUNCTION bump_project_version();
CREATE TRIGGER hosts_bump_version AFTER INSERT OR UPDATE OR DELETE ON hosts
    FOR EACH ROW EXECUTE FUNCTION bump_project_version();
