-- The trigram index in one piece (issue 16): FTS5 adds a segment per writing transaction and
-- merges them only in steps, and a search reads every segment (a fresh search spent 16% of
-- its database time opening them after a bulk load). This merges what exists into one; the
-- PostgreSQL counterpart, 0010, turns off GIN's pending list.
INSERT INTO certificates_name_fts (certificates_name_fts) VALUES ('optimize');
