-- Account protection: accounts discovered on members, per-pool chunk keys
-- (sealed with the server's master key), protections, their replication
-- runs and run logs. Portable SQL: {{ID}} is replaced per dialect; times are
-- Unix milliseconds (BIGINT); structured values are JSON text.

-- +goose Up
CREATE TABLE accounts (
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    discovered_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, name)
);

CREATE TABLE pool_keys (
    pool_id BIGINT PRIMARY KEY REFERENCES pools(id) ON DELETE CASCADE,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE protections (
    id {{ID}},
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    account TEXT NOT NULL,
    source_member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    standby_member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    schedule TEXT NOT NULL,
    records TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    with_databases BOOLEAN NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    next_run_at BIGINT,
    good_run_id BIGINT,
    good_at BIGINT,
    good_files TEXT NOT NULL DEFAULT '',
    good_databases TEXT NOT NULL DEFAULT '',
    good_account TEXT NOT NULL DEFAULT '',
    full_next BOOLEAN NOT NULL DEFAULT FALSE,
    rpo_alerted BOOLEAN NOT NULL DEFAULT FALSE,
    cut_to_member_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (pool_id, account)
);

CREATE TABLE replication_runs (
    id {{ID}},
    protection_id BIGINT NOT NULL REFERENCES protections(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    source_job_id BIGINT,
    standby_job_id BIGINT,
    log_cursor BIGINT NOT NULL DEFAULT 0,
    files_manifest TEXT NOT NULL DEFAULT '',
    databases_manifest TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    stats TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX replication_runs_protection ON replication_runs (protection_id, id);
CREATE INDEX replication_runs_status ON replication_runs (status, id);

CREATE TABLE run_logs (
    run_id BIGINT NOT NULL REFERENCES replication_runs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- +goose Down
DROP TABLE run_logs;
DROP TABLE replication_runs;
DROP TABLE protections;
DROP TABLE pool_keys;
DROP TABLE accounts;
