-- Linked nodes (internal/links). members.profile is what the operator set
-- a member to serve: standard, mail, dns or database. links pairs a parent
-- member with a child that serves one function (mail) for some of the
-- parent's accounts; a child has exactly one parent (UNIQUE child_id).
-- distributions is an account's mail on a link's child: its state
-- (distributing, distributed, dedistributing, retained), the token the
-- child's agent records at import and requires of every later request
-- about the account, the mail users and domains the parent proxies, and
-- keep_until for the copy a child keeps after dedistribution.
-- distribution_runs are the resumable runs that move an account's mail to
-- a child and back: their step, the job in flight and the engine's state
-- (JSON), with a log in distribution_run_log. Portable SQL; times are Unix
-- milliseconds (BIGINT).

-- +goose Up
ALTER TABLE members ADD COLUMN profile TEXT NOT NULL DEFAULT 'standard';

CREATE TABLE links (
    id {{ID}},
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    child_id BIGINT NOT NULL UNIQUE REFERENCES members(id) ON DELETE CASCADE,
    function TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX links_parent ON links (parent_id);

CREATE TABLE distributions (
    id {{ID}},
    link_id BIGINT NOT NULL REFERENCES links(id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL,
    function TEXT NOT NULL,
    account TEXT NOT NULL,
    state TEXT NOT NULL,
    token TEXT NOT NULL,
    mail TEXT NOT NULL DEFAULT '{}',
    keep_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX distributions_account ON distributions (parent_id, function, account);

CREATE TABLE distribution_runs (
    id {{ID}},
    distribution_id BIGINT NOT NULL,
    link_id BIGINT NOT NULL,
    pool TEXT NOT NULL,
    parent TEXT NOT NULL,
    child TEXT NOT NULL,
    account TEXT NOT NULL,
    direction TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    job_id BIGINT NOT NULL DEFAULT 0,
    log_cursor BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT '{}',
    forced BOOLEAN NOT NULL DEFAULT FALSE,
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX distribution_runs_status ON distribution_runs (status);

CREATE TABLE distribution_run_log (
    run_id BIGINT NOT NULL REFERENCES distribution_runs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- +goose Down
DROP TABLE distribution_run_log;
DROP TABLE distribution_runs;
DROP TABLE distributions;
DROP TABLE links;
ALTER TABLE members DROP COLUMN profile;
