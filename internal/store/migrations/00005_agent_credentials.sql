-- Agent credential rotation and revocation. A member has its current
-- credential (agent_token_hash) and, while a rotation is under way, the next
-- one, issued in a heartbeat reply and not used yet (agent_token_next_hash,
-- issued at agent_token_next_at), or the previous one, still accepted until
-- agent_token_prev_until so that requests already on their way are not
-- lost. credential_issued_at dates the current credential (automatic
-- rotation counts from it); rotate_requested asks for a rotation on the
-- agent's next heartbeat. removed_agents.reason tells why a credential
-- stopped working: removed or reenrolled (the agent must stop: 410),
-- rotated or revoked (refused: 401). Portable SQL; times are Unix
-- milliseconds (BIGINT).

-- +goose Up
ALTER TABLE members ADD COLUMN agent_token_next_hash TEXT;
ALTER TABLE members ADD COLUMN agent_token_next_at BIGINT;
ALTER TABLE members ADD COLUMN agent_token_prev_hash TEXT;
ALTER TABLE members ADD COLUMN agent_token_prev_until BIGINT;
ALTER TABLE members ADD COLUMN credential_issued_at BIGINT;
ALTER TABLE members ADD COLUMN rotate_requested BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX members_agent_token_next ON members (agent_token_next_hash);
CREATE UNIQUE INDEX members_agent_token_prev ON members (agent_token_prev_hash);
UPDATE members SET credential_issued_at = updated_at WHERE agent_token_hash IS NOT NULL;
ALTER TABLE removed_agents ADD COLUMN reason TEXT NOT NULL DEFAULT 'removed';

-- +goose Down
ALTER TABLE removed_agents DROP COLUMN reason;
DROP INDEX members_agent_token_prev;
DROP INDEX members_agent_token_next;
ALTER TABLE members DROP COLUMN rotate_requested;
ALTER TABLE members DROP COLUMN credential_issued_at;
ALTER TABLE members DROP COLUMN agent_token_prev_until;
ALTER TABLE members DROP COLUMN agent_token_prev_hash;
ALTER TABLE members DROP COLUMN agent_token_next_at;
ALTER TABLE members DROP COLUMN agent_token_next_hash;
