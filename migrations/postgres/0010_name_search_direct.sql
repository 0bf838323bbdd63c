-- The trigram index without its pending list (issue 16). With GIN's default `fastupdate`, new
-- index entries wait in an unordered pending list until a vacuum or 4 MB of them, and every
-- search reads the whole list: the expiry events' updates of 15,000 certificates left 463
-- pending pages, and a 4-character search took 6-9 ms instead of 0.07 ms. Writes now update
-- the index directly; the list already pending is merged here. SQLite's 0010 is the
-- counterpart for its FTS5 index.
ALTER INDEX certificates_name_trgm SET (fastupdate = off);
SELECT gin_clean_pending_list('certificates_name_trgm'::regclass);
