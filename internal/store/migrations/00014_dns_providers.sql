-- DNS providers (internal/dnsprov): named places poolctl publishes records
-- to besides its own zones: kind (powerdns, rfc2136, cloudflare), a JSON
-- configuration without secrets (URL, server, zones, key name, account),
-- and the credential (API key, TSIG secret, API token) sealed with the
-- server's master key (AES-GCM, base64). pools.dns_provider names the
-- provider a pool's failover record is published at; '' is the built-in
-- zones. Portable SQL; times are Unix milliseconds (BIGINT).

-- +goose Up
CREATE TABLE dns_providers (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    secret_sealed TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE pools ADD COLUMN dns_provider TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE pools DROP COLUMN dns_provider;
DROP TABLE dns_providers;
