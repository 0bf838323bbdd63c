-- SHA-256 (hex) of each certificate's leaf DER and of its public key, so the details endpoint
-- finds the same certificate or key stored under another name through an index instead of
-- reading every chain of the project. Rows stored before this migration have NULL here and are
-- read (and compared) one by one.
ALTER TABLE certificates ADD COLUMN leaf_sha256 TEXT;
ALTER TABLE certificates ADD COLUMN key_sha256 TEXT;
CREATE INDEX certificates_leaf_sha256 ON certificates (project_id, leaf_sha256);
CREATE INDEX certificates_key_sha256 ON certificates (project_id, key_sha256);
