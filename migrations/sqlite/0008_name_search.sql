-- Name substring search without a scan (issue 16): an FTS5 index of `name_lower` with the
-- trigram tokenizer (SQLite 3.34+), kept by triggers in the writing transaction. It is an
-- index, not a table of data: PostgreSQL's counterpart is the pg_trgm GIN index
-- `certificates_name_trgm` (0001). The queries are side by side in src/storage/name_search.rs.
CREATE VIRTUAL TABLE certificates_name_fts USING fts5(
    name_lower,
    content = 'certificates',
    content_rowid = 'rowid',
    tokenize = 'trigram'
);
INSERT INTO certificates_name_fts (certificates_name_fts) VALUES ('rebuild');

CREATE TRIGGER certificates_name_fts_insert AFTER INSERT ON certificates BEGIN
    INSERT INTO certificates_name_fts (rowid, name_lower) VALUES (new.rowid, new.name_lower);
END;
CREATE TRIGGER certificates_name_fts_delete AFTER DELETE ON certificates BEGIN
    INSERT INTO certificates_name_fts (certificates_name_fts, rowid, name_lower)
        VALUES ('delete', old.rowid, old.name_lower);
END;
CREATE TRIGGER certificates_name_fts_update AFTER UPDATE OF name_lower ON certificates BEGIN
    INSERT INTO certificates_name_fts (certificates_name_fts, rowid, name_lower)
        VALUES ('delete', old.rowid, old.name_lower);
    INSERT INTO certificates_name_fts (rowid, name_lower) VALUES (new.rowid, new.name_lower);
END;
