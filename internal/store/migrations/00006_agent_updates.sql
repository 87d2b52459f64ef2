-- Signed agent self-updates. release_keys holds the server's ed25519
-- release key (one row, id 1): its public half in the clear and its private
-- half sealed with the server's master key (AES-GCM), so a copy of the
-- database alone cannot sign a binary. agent_version_notices remembers
-- which version notices (kind "outdated" or "refused") were raised per
-- member, so each is an event once. agent_rollouts and agent_rollout_members
-- hold rolling updates across a pool, one member at a time, so that a
-- server restart resumes them where they were. Portable SQL; times are
-- Unix milliseconds (BIGINT).

-- +goose Up
CREATE TABLE release_keys (
    id INTEGER PRIMARY KEY,
    public_key TEXT NOT NULL,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agent_version_notices (
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    noticed_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, kind, version)
);

CREATE TABLE agent_rollouts (
    id {{ID}},
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    rollback_after_ms BIGINT NOT NULL DEFAULT 0,
    step_started_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX agent_rollouts_running ON agent_rollouts (pool_id) WHERE status = 'running';

CREATE TABLE agent_rollout_members (
    rollout_id BIGINT NOT NULL REFERENCES agent_rollouts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    from_version TEXT NOT NULL DEFAULT '',
    job_id BIGINT,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (rollout_id, position)
);

-- +goose Down
DROP TABLE agent_rollout_members;
DROP INDEX agent_rollouts_running;
DROP TABLE agent_rollouts;
DROP TABLE agent_version_notices;
DROP TABLE release_keys;
