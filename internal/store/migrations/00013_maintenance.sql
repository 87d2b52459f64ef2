-- Maintenance windows (internal/monitor).
-- maintenance_windows: a pool's (member '') or one member's window, one-off
-- (starts_at .. ends_at) or scheduled (a cron expression in UTC whose every
-- activation opens a window of duration_ms); pause_failover keeps the
-- failover engine from cutting while it is open. incidents.muted says
-- why an incident's alert was not sent (a maintenance window). Portable
-- SQL; times are Unix milliseconds (BIGINT).

-- +goose Up
CREATE TABLE maintenance_windows (
    id {{ID}},
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    member TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    pause_failover BOOLEAN NOT NULL DEFAULT FALSE,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    cron TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX maintenance_windows_pool ON maintenance_windows (pool_id, member);

ALTER TABLE incidents ADD COLUMN muted TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE incidents DROP COLUMN muted;
DROP TABLE maintenance_windows;
