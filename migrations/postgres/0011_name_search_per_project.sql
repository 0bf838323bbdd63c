-- The trigram index per project (issue 16). A project's search is `project_id = $1 AND
-- name_lower LIKE '%text%'`, but the index of 0001 held only the names: every search read the
-- candidates of all projects and dropped the others' afterwards. At 1,000,000 certificates a
-- digit-only text such as `0042`, which the names of other projects share (`tenant-00042-...`),
-- fetched 12,220 rows from the heap to keep 120: 28-170 ms. With the project as the index's
-- first column (`btree_gin` gives text an equality operator class for GIN), the index scan
-- intersects the project's entries with the trigrams' and reads only the project's candidates:
-- about 1 ms for the same text. Projects' searches are the only searches, so this replaces
-- the index rather than adding one. SQLite's FTS5 table has no counterpart to change: its
-- few-matches page names the project `+project_id` (src/storage/name_search.rs).
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX IF EXISTS certificates_name_trgm;
CREATE INDEX certificates_name_trgm ON certificates
    USING gin (project_id, name_lower gin_trgm_ops) WITH (fastupdate = off);
