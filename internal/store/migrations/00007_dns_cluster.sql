-- The DNS cluster, sending side. dns_cluster_settings (one row, id 1) is
-- the switch and the failure threshold (0: keep every member online).
-- dns_cluster_members are the nameservers this server writes its zones to,
-- with the cluster token they gave us sealed with the master key
-- (AES-GCM), their role, and their health: consecutive failed operations,
-- the last error, and disabled_at once the threshold was reached.
-- dns_cluster_pushed remembers which serial of which zone a member has
-- acknowledged, so that a zone deleted here is deleted there too and an
-- unchanged zone is not sent again. Portable SQL; times are Unix
-- milliseconds (BIGINT).

-- +goose Up
CREATE TABLE dns_cluster_settings (
    id INTEGER PRIMARY KEY,
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    failure_threshold INTEGER NOT NULL DEFAULT 10,
    updated_at BIGINT NOT NULL
);

CREATE TABLE dns_cluster_members (
    id {{ID}},
    host TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    token_sealed TEXT NOT NULL,
    ca_pem TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    backend TEXT NOT NULL DEFAULT 'poolctl',
    remote_version TEXT NOT NULL DEFAULT '',
    remote_node TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_ok_at BIGINT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE dns_cluster_pushed (
    member_id BIGINT NOT NULL REFERENCES dns_cluster_members(id) ON DELETE CASCADE,
    zone TEXT NOT NULL,
    serial BIGINT NOT NULL,
    PRIMARY KEY (member_id, zone)
);

-- +goose Down
DROP TABLE dns_cluster_pushed;
DROP TABLE dns_cluster_members;
DROP TABLE dns_cluster_settings;
