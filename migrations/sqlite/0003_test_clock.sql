-- The certificate clock of test controls (`serve --test-controls`), shared by every replica:
-- one row. Servers without test controls never read it. Keep identical in both dialects.
CREATE TABLE test_clock (
    id BIGINT PRIMARY KEY,
    -- Simulated minus real time, in milliseconds, while the clock runs.
    offset_ms BIGINT NOT NULL,
    -- The simulated instant the clock stands still at; NULL while it runs.
    frozen_at_ms BIGINT
);
INSERT INTO test_clock (id, offset_ms, frozen_at_ms) VALUES (1, 0, NULL);
