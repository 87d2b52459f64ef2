-- DNSSEC for built-in zones. dnssec_zones marks a zone as signed (one row
-- per signed zone) and holds its key rollover, when one runs: the role of
-- the key rolled (ksk, zsk), the step reached, the old and new key tags,
-- when it started and when the next step is due; fixed_wait_ms, when not
-- 0, replaces every computed wait (tests). origin is 'local' for a zone
-- signed here and 'replica' for one whose keys a DNS cluster member sent
-- (that member runs its rollovers). dnssec_keys are the zone's keys: the
-- DNSKEY record, the PKCS#8 private key sealed with the master key
-- (AES-GCM, base64), and what the key does (publish: in the DNSKEY RRset,
-- sign: makes signatures, ds: a KSK the CDS/CDNSKEY RRsets list). Portable
-- SQL; times are Unix milliseconds (BIGINT).

-- +goose Up
CREATE TABLE dnssec_zones (
    zone_id BIGINT PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,
    origin TEXT NOT NULL DEFAULT 'local',
    rollover_role TEXT NOT NULL DEFAULT '',
    rollover_step TEXT NOT NULL DEFAULT '',
    rollover_old_tag INTEGER NOT NULL DEFAULT 0,
    rollover_new_tag INTEGER NOT NULL DEFAULT 0,
    rollover_started_at BIGINT,
    rollover_next_at BIGINT,
    fixed_wait_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE dnssec_keys (
    id {{ID}},
    zone_id BIGINT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    tag INTEGER NOT NULL,
    dnskey TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    publish BOOLEAN NOT NULL,
    sign BOOLEAN NOT NULL,
    ds BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (zone_id, tag)
);

-- +goose Down
DROP TABLE dnssec_keys;
DROP TABLE dnssec_zones;
