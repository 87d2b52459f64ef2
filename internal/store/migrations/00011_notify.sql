-- Monitoring and notifications (internal/monitor, internal/notify).
-- notify_channels are the places alerts go: kind (email, webhook), a JSON
-- configuration without secrets, and the secret (SMTP password, webhook
-- signing secret) sealed with the server's master key (AES-GCM, base64).
-- notify_deliveries is the durable queue: one row per message and channel,
-- pending until a worker claims it (status sending, lease_holder and
-- lease_until), then delivered, or failed after its last attempt; a lease
-- that runs out (a crashed worker) makes the row claimable again.
-- notify_attempts records every attempt with its outcome. monitor_routes
-- says which channels hear a pool's alerts of which severity;
-- incidents are the monitor's open and recent alerts, and monitor_state
-- its event cursor. Portable SQL; times are Unix milliseconds (BIGINT).

-- +goose Up
CREATE TABLE notify_channels (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    secret_sealed TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notify_deliveries (
    id {{ID}},
    channel_id BIGINT NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    pool TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    lease_holder TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (status, next_at);
CREATE INDEX notify_deliveries_channel ON notify_deliveries (channel_id, id);

CREATE TABLE notify_attempts (
    delivery_id BIGINT NOT NULL REFERENCES notify_deliveries(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, seq)
);

CREATE TABLE monitor_routes (
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
    severity TEXT NOT NULL,
    PRIMARY KEY (pool_id, channel_id)
);

CREATE TABLE incidents (
    id {{ID}},
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    pool TEXT NOT NULL DEFAULT '',
    member TEXT NOT NULL DEFAULT '',
    cause TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    since BIGINT NOT NULL,
    fired_at BIGINT,
    recovering_since BIGINT,
    notified_at BIGINT,
    resolved_at BIGINT,
    suppressed BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE INDEX incidents_key ON incidents (key, state);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE monitor_state (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- +goose Down
DROP TABLE monitor_state;
DROP TABLE incidents;
DROP TABLE monitor_routes;
DROP TABLE notify_attempts;
DROP TABLE notify_deliveries;
DROP TABLE notify_channels;
