-- When and why a protection's DNS was cut away from its source (while it
-- is, the member it points at serves the live copy and no run may
-- overwrite it), whether the engine has announced that its replication is
-- paused for this cut, and when the protection was last reversed (its RPO
-- counts from then until the first good run). Portable SQL; times are Unix
-- milliseconds (BIGINT).

-- +goose Up
ALTER TABLE protections ADD COLUMN cut_at BIGINT;
ALTER TABLE protections ADD COLUMN cut_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE protections ADD COLUMN cut_noticed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE protections ADD COLUMN reversed_at BIGINT;

-- +goose Down
ALTER TABLE protections DROP COLUMN reversed_at;
ALTER TABLE protections DROP COLUMN cut_noticed;
ALTER TABLE protections DROP COLUMN cut_reason;
ALTER TABLE protections DROP COLUMN cut_at;
