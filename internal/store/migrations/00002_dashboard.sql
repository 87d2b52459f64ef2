-- Dashboard users and their sessions. Portable SQL: {{ID}} is replaced per
-- dialect at load time; times are Unix milliseconds (BIGINT).

-- +goose Up
CREATE TABLE users (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A session is known by the SHA-256 of its cookie value; the cookie itself
-- is never stored. It ends at expires_at (absolute) or after a stretch of
-- inactivity measured from last_seen_at (idle), whichever comes first.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
