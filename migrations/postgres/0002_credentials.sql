-- Issue 14: credentials that can be cut off.
-- A disabled user cannot log in (its tokens are revoked when it is disabled).
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
-- The token a Keystone token was bought with (the `token` method): revoking a token revokes
-- the tokens bought with it.
ALTER TABLE tokens ADD COLUMN parent_hash TEXT;
CREATE INDEX tokens_parent ON tokens (parent_hash);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_project ON tokens (project_id);
