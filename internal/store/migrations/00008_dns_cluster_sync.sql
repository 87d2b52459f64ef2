-- The DNS cluster in both directions (sync and standalone members),
-- conflicts and a per-member operation log.
--
-- dns_cluster_pushed now holds, per member and zone, the serial both sides
-- last agreed on (written by a push or a fetch): a side whose serial moved
-- from it changed the zone; both moved is a conflict. yielded marks a zone
-- this server no longer writes to that member because an operator chose
-- another writer's version.
-- dns_cluster_conflicts keeps both versions of a zone that two sides changed
-- (or that another server writes too) until an operator chooses a side.
-- dns_cluster_log is the member's recent operations (bounded by the engine).
-- dns_cluster_writers is the receiving side: which sender (the name of its
-- cluster token) writes each zone here, so that a second writer is refused.

-- +goose Up
ALTER TABLE dns_cluster_pushed ADD COLUMN yielded BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE dns_cluster_members ADD COLUMN debug BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE dns_cluster_conflicts (
    id {{ID}},
    member_id BIGINT NOT NULL REFERENCES dns_cluster_members(id) ON DELETE CASCADE,
    zone TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    local_serial BIGINT NOT NULL,
    remote_serial BIGINT NOT NULL,
    local_text TEXT NOT NULL,
    remote_text TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    resolved_at BIGINT,
    resolution TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dns_cluster_conflicts_open ON dns_cluster_conflicts (member_id, zone, resolved_at);

CREATE TABLE dns_cluster_log (
    id {{ID}},
    member_id BIGINT NOT NULL REFERENCES dns_cluster_members(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    op TEXT NOT NULL,
    zone TEXT NOT NULL,
    serial BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    took_ms BIGINT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX dns_cluster_log_member ON dns_cluster_log (member_id, id);

CREATE TABLE dns_cluster_writers (
    zone TEXT PRIMARY KEY,
    writer TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE dns_cluster_writers;
DROP TABLE dns_cluster_log;
DROP TABLE dns_cluster_conflicts;
ALTER TABLE dns_cluster_members DROP COLUMN debug;
ALTER TABLE dns_cluster_pushed DROP COLUMN yielded;
