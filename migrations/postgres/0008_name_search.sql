-- Name substring search without a scan (issue 16). PostgreSQL's trigram index is the pg_trgm
-- GIN index `certificates_name_trgm` of 0001; this makes sure of both (idempotent), next to
-- SQLite's 0008, which adds the FTS5 trigram index. The queries are side by side in
-- src/storage/name_search.rs.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS certificates_name_trgm ON certificates USING gin (name_lower gin_trgm_ops);
