-- Foundation schema. Portable SQL for SQLite and PostgreSQL: {{ID}} and
-- {{BLOB}} are replaced per dialect at load time. Times are Unix
-- milliseconds (BIGINT); structured values are JSON text.

-- +goose Up
CREATE TABLE pools (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    preset TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    failover_record TEXT NOT NULL DEFAULT '',
    failover_delay_ms BIGINT NOT NULL,
    ttl INTEGER NOT NULL,
    failback TEXT NOT NULL,
    heartbeat_timeout_ms BIGINT NOT NULL,
    hook TEXT NOT NULL DEFAULT '',
    active_member_id BIGINT,
    banner TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE members (
    id {{ID}},
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    allowed_cidrs TEXT NOT NULL DEFAULT '[]',
    probe_url TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '{}',
    role TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 100,
    shell_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL DEFAULT 'pending',
    enrolled BOOLEAN NOT NULL DEFAULT FALSE,
    agent_token_hash TEXT UNIQUE,
    heartbeat_interval_ms BIGINT NOT NULL DEFAULT 2000,
    last_heartbeat_at BIGINT,
    healthy_since BIGINT,
    agent_version TEXT NOT NULL DEFAULT '',
    facts TEXT NOT NULL DEFAULT '{}',
    stack TEXT NOT NULL DEFAULT '{}',
    metrics TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (pool_id, name)
);

CREATE TABLE enrollment_secrets (
    id {{ID}},
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_from TEXT NOT NULL DEFAULT ''
);
CREATE INDEX enrollment_secrets_member ON enrollment_secrets (member_id);

CREATE TABLE api_tokens (
    id {{ID}},
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL DEFAULT 'admin',
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE events (
    id {{ID}},
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    pool TEXT NOT NULL DEFAULT '',
    member TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX events_pool ON events (pool, id);
CREATE INDEX events_kind ON events (kind, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE jobs (
    id {{ID}},
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    lease_until BIGINT,
    result TEXT,
    error TEXT NOT NULL DEFAULT '',
    parent_id BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX jobs_claim ON jobs (member_id, status, id);
CREATE INDEX jobs_lease ON jobs (status, lease_until);

CREATE TABLE job_logs (
    job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE member_samples (
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    resolution_s INTEGER NOT NULL,
    cpu REAL NOT NULL,
    mem REAL NOT NULL,
    disk REAL NOT NULL,
    load1 REAL NOT NULL,
    net_rx BIGINT NOT NULL,
    net_tx BIGINT NOT NULL,
    PRIMARY KEY (member_id, resolution_s, at)
);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE zones (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    serial BIGINT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE records (
    id {{ID}},
    zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    value TEXT NOT NULL,
    managed TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX records_zone ON records (zone_id, name, type);

CREATE TABLE zone_changes (
    id {{ID}},
    zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
    serial_from BIGINT NOT NULL,
    serial_to BIGINT NOT NULL,
    at BIGINT NOT NULL,
    removed TEXT NOT NULL,
    added TEXT NOT NULL
);
CREATE INDEX zone_changes_zone ON zone_changes (zone_id, id);

CREATE TABLE removed_agents (
    token_hash TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    member TEXT NOT NULL,
    removed_at BIGINT NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE removed_agents;
DROP TABLE zone_changes;
DROP TABLE records;
DROP TABLE zones;
DROP TABLE leases;
DROP TABLE member_samples;
DROP TABLE job_logs;
DROP TABLE jobs;
DROP TABLE events;
DROP TABLE api_tokens;
DROP TABLE enrollment_secrets;
DROP TABLE members;
DROP TABLE pools;
