-- The guard against replicating a disaster: per protection, the share of
-- the account's files (deleted or changed) and of its bytes (rewritten with
-- content that does not compress) above which a run waits for an
-- operator's confirmation before it replaces the standby's copy, in percent
-- (0 = off). Per run, what the guard measured (api.RunGuard as JSON text,
-- '' when the snapshot could not be compared) and the operator's decision
-- on a run that needed confirmation ('', 'confirmed', 'rejected').

-- +goose Up
ALTER TABLE protections ADD COLUMN guard_changed INTEGER NOT NULL DEFAULT 30;
ALTER TABLE protections ADD COLUMN guard_incompressible INTEGER NOT NULL DEFAULT 80;
ALTER TABLE replication_runs ADD COLUMN guard TEXT NOT NULL DEFAULT '';
ALTER TABLE replication_runs ADD COLUMN decision TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE replication_runs DROP COLUMN decision;
ALTER TABLE replication_runs DROP COLUMN guard;
ALTER TABLE protections DROP COLUMN guard_incompressible;
ALTER TABLE protections DROP COLUMN guard_changed;
