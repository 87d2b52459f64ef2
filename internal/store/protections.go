package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// AccountRow is an account discovered on a member; Data is its api.Account
// as JSON text.
type AccountRow struct {
	MemberID     int64
	Name         string
	Data         string
	DiscoveredAt time.Time
}

// ReplaceAccounts stores the accounts an agent reported for a member,
// replacing those it reported before.
func (s *Store) ReplaceAccounts(ctx context.Context, memberID int64, rows []AccountRow, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE member_id = $1`, memberID); err != nil {
			return fmt.Errorf("replace accounts: %w", err)
		}
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (member_id, name, data, discovered_at) VALUES ($1,$2,$3,$4)`,
				memberID, r.Name, r.Data, ms(now)); err != nil {
				return classify(err, "account "+r.Name)
			}
		}
		return nil
	})
}

// Accounts returns the accounts last discovered on a member, by name.
func (s *Store) Accounts(ctx context.Context, memberID int64) ([]AccountRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT member_id, name, data, discovered_at FROM accounts WHERE member_id = $1 ORDER BY name`, memberID)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []AccountRow
	for rows.Next() {
		var r AccountRow
		var at int64
		if err := rows.Scan(&r.MemberID, &r.Name, &r.Data, &at); err != nil {
			return nil, err
		}
		r.DiscoveredAt = fromMs(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EnsurePoolKey stores sealed as the pool's chunk key unless it has one, and
// returns the one it has.
func (s *Store) EnsurePoolKey(ctx context.Context, poolID int64, sealed string, now time.Time) (string, error) {
	var out string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pool_keys (pool_id, sealed, created_at) VALUES ($1,$2,$3) ON CONFLICT (pool_id) DO NOTHING`,
			poolID, sealed, ms(now)); err != nil {
			return fmt.Errorf("store pool key: %w", err)
		}
		return tx.QueryRowContext(ctx, `SELECT sealed FROM pool_keys WHERE pool_id = $1`, poolID).Scan(&out)
	})
	return out, err
}

// Protection is a protection row with its members' names.
type Protection struct {
	ID                   int64
	PoolID               int64
	Pool                 string
	Account              string
	SourceID, StandbyID  int64
	Source, Standby      string
	Schedule             string
	Records              []string
	TTL                  int
	Databases            bool
	Paused               bool
	NextRunAt            *time.Time
	GoodRunID            int64
	GoodAt               *time.Time
	GoodFiles, GoodDBs   string // manifest keys of the last good run
	GoodAccount          string // api.Account JSON as of the last good run
	FullNext, RPOAlerted bool
	// CutToID is the member the account's DNS points at when a cut moved
	// it away from the source (0 while it points at the source); CutAt and
	// CutReason say when and why ("automatically after node1 failed", "by
	// an operator"). CutAt is nil for cuts made before it was recorded.
	CutToID   int64
	CutTo     string
	CutAt     *time.Time
	CutReason string
	// CutNoticed is set once the engine has announced that replication is
	// paused by the current cut.
	CutNoticed bool
	// ReversedAt is when source and standby were last swapped.
	ReversedAt *time.Time
	// GuardChanged and GuardIncompressible are the guard's thresholds in
	// percent (0 = off), see api.Protection.
	GuardChanged, GuardIncompressible int
	CreatedAt, UpdatedAt              time.Time
}

const protectionCols = `pr.id, pr.pool_id, p.name, pr.account, pr.source_member_id, pr.standby_member_id, sm.name, bm.name,
	pr.schedule, pr.records, pr.ttl, pr.with_databases, pr.paused, pr.next_run_at, pr.good_run_id, pr.good_at, pr.good_files,
	pr.good_databases, pr.good_account, pr.full_next, pr.rpo_alerted, pr.cut_to_member_id, COALESCE(cm.name, ''), pr.cut_at, pr.cut_reason,
	pr.cut_noticed, pr.reversed_at, pr.guard_changed, pr.guard_incompressible, pr.created_at, pr.updated_at`

const protectionFrom = ` FROM protections pr JOIN pools p ON p.id = pr.pool_id
	JOIN members sm ON sm.id = pr.source_member_id JOIN members bm ON bm.id = pr.standby_member_id
	LEFT JOIN members cm ON cm.id = pr.cut_to_member_id `

func scanProtection(row interface{ Scan(...any) error }) (Protection, error) {
	var (
		p                Protection
		records          string
		next, goodAt     sql.NullInt64
		goodRun, cutTo   sql.NullInt64
		cutAt, reversed  sql.NullInt64
		created, updated int64
	)
	err := row.Scan(&p.ID, &p.PoolID, &p.Pool, &p.Account, &p.SourceID, &p.StandbyID, &p.Source, &p.Standby,
		&p.Schedule, &records, &p.TTL, &p.Databases, &p.Paused, &next, &goodRun, &goodAt, &p.GoodFiles,
		&p.GoodDBs, &p.GoodAccount, &p.FullNext, &p.RPOAlerted, &cutTo, &p.CutTo, &cutAt, &p.CutReason,
		&p.CutNoticed, &reversed, &p.GuardChanged, &p.GuardIncompressible, &created, &updated)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(records), &p.Records); err != nil {
		return p, fmt.Errorf("protection %d records: %w", p.ID, err)
	}
	p.NextRunAt, p.GoodAt = fromNullMs(next), fromNullMs(goodAt)
	p.GoodRunID, p.CutToID = goodRun.Int64, cutTo.Int64
	p.CutAt, p.ReversedAt = fromNullMs(cutAt), fromNullMs(reversed)
	p.CreatedAt, p.UpdatedAt = fromMs(created), fromMs(updated)
	return p, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// CreateProtection inserts a protection; a second one for the same account
// in a pool is a Conflict.
func (s *Store) CreateProtection(ctx context.Context, p *Protection, now time.Time) error {
	p.CreatedAt, p.UpdatedAt = now.UTC(), now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO protections (pool_id, account, source_member_id, standby_member_id, schedule, records,
		ttl, with_databases, paused, next_run_at, guard_changed, guard_incompressible, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) RETURNING id`,
		p.PoolID, p.Account, p.SourceID, p.StandbyID, p.Schedule, jsonText(p.Records), p.TTL, p.Databases, p.Paused,
		msPtr(p.NextRunAt), p.GuardChanged, p.GuardIncompressible, ms(now), ms(now)).Scan(&p.ID)
	return classify(err, fmt.Sprintf("protection of account %s", p.Account))
}

// GetProtection returns a pool's protection of account.
func (s *Store) GetProtection(ctx context.Context, poolID int64, account string) (Protection, error) {
	p, err := scanProtection(s.db.QueryRowContext(ctx, `SELECT `+protectionCols+protectionFrom+`WHERE pr.pool_id = $1 AND pr.account = $2`, poolID, account))
	return p, classify(err, fmt.Sprintf("protection of account %s", account))
}

// GetProtectionByID returns one protection.
func (s *Store) GetProtectionByID(ctx context.Context, id int64) (Protection, error) {
	p, err := scanProtection(s.db.QueryRowContext(ctx, `SELECT `+protectionCols+protectionFrom+`WHERE pr.id = $1`, id))
	return p, classify(err, fmt.Sprintf("protection %d", id))
}

// ListProtections returns a pool's protections (every pool's when poolID
// is 0), by pool and account.
func (s *Store) ListProtections(ctx context.Context, poolID int64) ([]Protection, error) {
	q := `SELECT ` + protectionCols + protectionFrom
	var args []any
	if poolID != 0 {
		q += `WHERE pr.pool_id = $1 `
		args = append(args, poolID)
	}
	rows, err := s.db.QueryContext(ctx, q+`ORDER BY p.name, pr.account`, args...)
	if err != nil {
		return nil, fmt.Errorf("list protections: %w", err)
	}
	defer rows.Close()
	var out []Protection
	for rows.Next() {
		p, err := scanProtection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdateProtection writes a protection's settings and engine state. It
// leaves where the account's DNS points alone (SetProtectionCut), so that
// a writer holding an older copy of the row never undoes a cut.
func (s *Store) UpdateProtection(ctx context.Context, p *Protection, now time.Time) error {
	p.UpdatedAt = now.UTC()
	return affect(fmt.Sprintf("protection %d", p.ID))(s.w.ExecContext(ctx, `UPDATE protections SET schedule=$1, records=$2, ttl=$3, paused=$4, next_run_at=$5,
		full_next=$6, rpo_alerted=$7, guard_changed=$8, guard_incompressible=$9, updated_at=$10 WHERE id=$11`,
		p.Schedule, jsonText(p.Records), p.TTL, p.Paused, msPtr(p.NextRunAt), p.FullNext, p.RPOAlerted, p.GuardChanged, p.GuardIncompressible, ms(now), p.ID))
}

// SetProtectionCut records where a protection's DNS points after a cut:
// p.CutToID (0: back at the source, which clears CutAt and CutReason too),
// since p.CutAt, for p.CutReason. The cut is not yet noticed.
func (s *Store) SetProtectionCut(ctx context.Context, p *Protection, now time.Time) error {
	if p.CutToID == 0 {
		p.CutAt, p.CutReason = nil, ""
	}
	p.CutNoticed, p.UpdatedAt = false, now.UTC()
	return affect(fmt.Sprintf("protection %d", p.ID))(s.w.ExecContext(ctx, `UPDATE protections SET cut_to_member_id=$1, cut_at=$2, cut_reason=$3,
		cut_noticed=FALSE, updated_at=$4 WHERE id=$5`, nullID(p.CutToID), msPtr(p.CutAt), p.CutReason, ms(now), p.ID))
}

// NoticeCut marks the protection's cut to cutToID as noticed, and reports
// whether this call did (false when it was noticed already, or the DNS
// points elsewhere now): of several callers, one gets true per cut.
func (s *Store) NoticeCut(ctx context.Context, id, cutToID int64) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE protections SET cut_noticed=TRUE WHERE id=$1 AND cut_to_member_id=$2 AND NOT cut_noticed`, id, cutToID)
	if err != nil {
		return false, fmt.Errorf("notice cut of protection %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReverseProtection swaps the source and standby of p, whose DNS points at
// its standby, in one transaction: the standby becomes the source (the DNS
// points at its source again, so the cut is cleared), the last good copy
// is forgotten (its manifests describe the other direction) and the next
// run is a full one; next is its next scheduled run. It is a Conflict when
// a run of p has not ended, or when p changed since it was read (another
// cut or reversal). p is updated to the new state.
func (s *Store) ReverseProtection(ctx context.Context, p *Protection, next *time.Time, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var active int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM replication_runs WHERE protection_id = $1 AND `+runActive, p.ID).Scan(&active); err == nil {
			return apperr.New(apperr.Conflict, "run %d of account %s has not ended yet; reverse the protection once it has", active, p.Account)
		} else if err != sql.ErrNoRows {
			return fmt.Errorf("check active runs: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE protections SET source_member_id=$1, standby_member_id=$2, cut_to_member_id=NULL, cut_at=NULL,
			cut_reason='', cut_noticed=FALSE, good_run_id=NULL, good_at=NULL, good_files='', good_databases='', full_next=TRUE,
			rpo_alerted=FALSE, next_run_at=$3, reversed_at=$4, updated_at=$4
			WHERE id=$5 AND source_member_id=$2 AND standby_member_id=$1 AND cut_to_member_id=$1`,
			p.StandbyID, p.SourceID, msPtr(next), ms(now), p.ID)
		if err != nil {
			return fmt.Errorf("reverse protection %d: %w", p.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("reverse protection %d: %w", p.ID, err)
		} else if n == 0 {
			return apperr.New(apperr.Conflict, "the protection of account %s changed meanwhile (its DNS was cut or it was reversed); look at it again", p.Account)
		}
		return nil
	})
	if err != nil {
		return err
	}
	np, err := s.GetProtectionByID(ctx, p.ID)
	if err != nil {
		return err
	}
	*p = np
	return nil
}

// DeleteProtection removes a protection with its runs and logs.
func (s *Store) DeleteProtection(ctx context.Context, id int64) error {
	return affect(fmt.Sprintf("protection %d", id))(s.w.ExecContext(ctx, `DELETE FROM protections WHERE id = $1`, id))
}

// Run is a replication run row.
type Run struct {
	api.Run
	FilesManifest, DBManifest string
	Account                   string // api.Account JSON the source reported
	LogCursor                 int64  // job log lines copied so far (of the job the run waits for)
	// Decision is an operator's answer to a run that needs confirmation
	// (written by DecideRun only; Guard.Decision shows it).
	Decision string
}

const runCols = `id, protection_id, status, trigger_kind, source_job_id, standby_job_id, log_cursor, files_manifest,
	databases_manifest, account, stats, error, created_at, started_at, finished_at, guard, decision`

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var (
		r                 Run
		srcJob, stbJob    sql.NullInt64
		stats, guard      string
		created           int64
		started, finished sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.Protection, &r.Status, &r.Trigger, &srcJob, &stbJob, &r.LogCursor, &r.FilesManifest,
		&r.DBManifest, &r.Account, &stats, &r.Error, &created, &started, &finished, &guard, &r.Decision)
	if err != nil {
		return r, err
	}
	r.SourceJob, r.StandbyJob = srcJob.Int64, stbJob.Int64
	if stats != "{}" && stats != "" {
		r.Stats = new(api.RunStats)
		if err := json.Unmarshal([]byte(stats), r.Stats); err != nil {
			return r, fmt.Errorf("run %d stats: %w", r.ID, err)
		}
	}
	if guard != "" {
		r.Guard = new(api.RunGuard)
		if err := json.Unmarshal([]byte(guard), r.Guard); err != nil {
			return r, fmt.Errorf("run %d guard: %w", r.ID, err)
		}
		r.Guard.Decision = r.Decision
	}
	r.CreatedAt = fromMs(created)
	r.StartedAt, r.FinishedAt = fromNullMs(started), fromNullMs(finished)
	return r, nil
}

// runActive is the SQL test for a run that has not ended.
const runActive = `status IN ('queued', 'snapshot', 'restore', 'needs_confirmation')`

// CreateRun queues a run unless the protection has one that has not ended
// (Conflict then).
func (s *Store) CreateRun(ctx context.Context, r *Run, now time.Time) error {
	r.Status, r.CreatedAt = api.RunQueued, now.UTC()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var active int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM replication_runs WHERE protection_id = $1 AND `+runActive, r.Protection).Scan(&active); err == nil {
			return apperr.New(apperr.Conflict, "run %d of this protection has not ended yet; runs of one account never overlap", active)
		} else if err != sql.ErrNoRows {
			return fmt.Errorf("check active runs: %w", err)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO replication_runs (protection_id, status, trigger_kind, created_at) VALUES ($1,$2,$3,$4) RETURNING id`,
			r.Protection, r.Status, r.Trigger, ms(now)).Scan(&r.ID)
		return classify(err, "run")
	})
}

// GetRun returns one run.
func (s *Store) GetRun(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM replication_runs WHERE id = $1`, id))
	return r, classify(err, fmt.Sprintf("run %d", id))
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runCols+` FROM replication_runs `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListRuns returns a protection's newest runs first.
func (s *Store) ListRuns(ctx context.Context, protectionID int64, limit int) ([]Run, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	return s.queryRuns(ctx, `WHERE protection_id = $1 ORDER BY id DESC LIMIT `+fmt.Sprint(limit), protectionID)
}

// ActiveRuns returns every run that has not ended, oldest first.
func (s *Store) ActiveRuns(ctx context.Context) ([]Run, error) {
	return s.queryRuns(ctx, `WHERE `+runActive+` ORDER BY id`)
}

// ErrRunEnded is wrapped by the errors of writes that would move a run
// that has ended (another writer failed it meanwhile) back into progress.
var ErrRunEnded = errors.New("the run has ended")

// runEnded returns the error for a write to run id that changed no row:
// ErrRunEnded when the run exists, NotFound otherwise.
func (s *Store) runEnded(ctx context.Context, id int64) error {
	r, err := s.GetRun(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("run %d is %s: %w", id, r.Status, ErrRunEnded)
}

// UpdateRun writes a run's state. A run that has ended is never moved
// back into progress: writing one whose FinishedAt is nil over a run that
// has ended changes nothing and returns ErrRunEnded.
func (s *Store) UpdateRun(ctx context.Context, r *Run) error {
	stats, guard := "{}", ""
	if r.Stats != nil {
		stats = jsonText(r.Stats)
	}
	if r.Guard != nil {
		g := *r.Guard
		g.Decision = "" // the decision column's
		guard = jsonText(g)
	}
	q := `UPDATE replication_runs SET status=$1, source_job_id=$2, standby_job_id=$3, log_cursor=$4,
		files_manifest=$5, databases_manifest=$6, account=$7, stats=$8, error=$9, started_at=$10, finished_at=$11, guard=$13 WHERE id=$12`
	if r.FinishedAt == nil {
		q += ` AND finished_at IS NULL`
	}
	res, err := s.w.ExecContext(ctx, q, r.Status, nullID(r.SourceJob), nullID(r.StandbyJob), r.LogCursor, r.FilesManifest, r.DBManifest,
		r.Account, stats, r.Error, msPtr(r.StartedAt), msPtr(r.FinishedAt), r.ID, guard)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	} else if n == 0 {
		return s.runEnded(ctx, r.ID)
	}
	return nil
}

// FailRun ends a run that has not ended yet as failed with msg and
// reports whether it did: of two writers failing one run, the first one's
// reason stays. r is updated when it did.
func (s *Store) FailRun(ctx context.Context, r *Run, msg string, now time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE replication_runs SET status=$1, error=$2, finished_at=$3 WHERE id=$4 AND `+runActive,
		api.RunFailed, msg, ms(now), r.ID)
	if err != nil {
		return false, fmt.Errorf("fail run %d: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	t := now.UTC()
	r.Status, r.Error, r.FinishedAt = api.RunFailed, msg, &t
	return true, nil
}

// DecideRun records an operator's decision (api.GuardConfirmed or
// api.GuardRejected) on run id, which needs confirmation, and reports
// whether this call did: false when the run does not need confirmation (any
// more) or was decided already. The engine carries the decision out.
func (s *Store) DecideRun(ctx context.Context, id int64, decision string) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE replication_runs SET decision=$1 WHERE id=$2 AND status=$3 AND decision=''`,
		decision, id, api.RunNeedsConfirmation)
	if err != nil {
		return false, fmt.Errorf("decide run %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RejectRun ends r, a run that needs confirmation, as rejected with msg and
// reports whether it did (false when it ended meanwhile).
func (s *Store) RejectRun(ctx context.Context, r *Run, msg string, now time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE replication_runs SET status=$1, error=$2, finished_at=$3 WHERE id=$4 AND status=$5`,
		api.RunRejected, msg, ms(now), r.ID, api.RunNeedsConfirmation)
	if err != nil {
		return false, fmt.Errorf("reject run %d: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	t := now.UTC()
	r.Status, r.Error, r.FinishedAt = api.RunRejected, msg, &t
	return true, nil
}

// FinishGoodRun marks r succeeded and makes it its protection's last good
// run, in one transaction; ErrRunEnded when r has ended meanwhile (it was
// failed, e.g. by a DNS cut), and then nothing changes.
func (s *Store) FinishGoodRun(ctx context.Context, r *Run, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE replication_runs SET status=$1, stats=$2, finished_at=$3, error='' WHERE id=$4 AND `+runActive,
			api.RunSucceeded, jsonText(r.Stats), ms(now), r.ID)
		if err != nil {
			return fmt.Errorf("finish run %d: %w", r.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("finish run %d: %w", r.ID, err)
		} else if n == 0 {
			return fmt.Errorf("run %d: %w", r.ID, ErrRunEnded)
		}
		return affect(fmt.Sprintf("protection %d", r.Protection))(tx.ExecContext(ctx, `UPDATE protections SET good_run_id=$1, good_at=$2, good_files=$3, good_databases=$4,
			good_account=$5, full_next=FALSE, rpo_alerted=FALSE, updated_at=$2 WHERE id=$6`,
			r.ID, ms(now), r.FilesManifest, r.DBManifest, r.Account, r.Protection))
	})
	if err == nil {
		t := now.UTC()
		r.Status, r.FinishedAt, r.Error = api.RunSucceeded, &t, ""
	}
	return err
}

// AppendRunLog adds lines to a run's log.
func (s *Store) AppendRunLog(ctx context.Context, runID int64, lines []api.RunLogLine) error {
	if len(lines) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = $1`, runID).Scan(&seq); err != nil {
			return fmt.Errorf("run %d log position: %w", runID, err)
		}
		for _, l := range lines {
			seq++
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_logs (run_id, seq, at, line) VALUES ($1,$2,$3,$4)`, runID, seq, ms(l.Time), l.Line); err != nil {
				return fmt.Errorf("append run %d log: %w", runID, err)
			}
		}
		return nil
	})
}

// RunLog returns up to limit lines of a run's log after seq.
func (s *Store) RunLog(ctx context.Context, runID, after int64, limit int) ([]api.RunLogLine, error) {
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, line FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT `+fmt.Sprint(limit), runID, after)
	if err != nil {
		return nil, fmt.Errorf("read run %d log: %w", runID, err)
	}
	defer rows.Close()
	out := []api.RunLogLine{}
	for rows.Next() {
		var l api.RunLogLine
		var at int64
		if err := rows.Scan(&l.Seq, &at, &l.Line); err != nil {
			return nil, err
		}
		l.Time = fromMs(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// affect adapts mustAffect to take an ExecContext call's results directly.
func affect(what string) func(sql.Result, error) error {
	return func(res sql.Result, err error) error { return mustAffect(res, err, what) }
}
