-- The expiry scheduler's read (storage/expiry.rs), run after every burst of writes: only the
-- certificates whose expiry events are not all emitted yet (stage NULL or a threshold, not 0),
-- in expiry order, with every column the read needs. Without it the read walked every row
-- of the table by id (~200 ms of CPU per run at 100,000 certificates). Keep identical to
-- migrations/sqlite/0009_expiry_due.sql.
CREATE INDEX certificates_expiry_due
    ON certificates (expire_time_ms, id, expiry_stage, project_id)
    WHERE expiry_stage IS NULL OR expiry_stage > 0;
