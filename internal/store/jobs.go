package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Job is a job row; Pool and Member hold names.
type Job struct {
	api.Job
	MemberID int64
}

const jobCols = `j.id, j.member_id, p.name, m.name, j.kind, j.args, j.status, j.attempts, j.max_attempts, j.lease_until,
	j.result, j.error, j.created_at, j.started_at, j.finished_at`

const jobFrom = ` FROM jobs j JOIN members m ON m.id = j.member_id JOIN pools p ON p.id = m.pool_id `

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var (
		j                        Job
		args                     string
		result                   sql.NullString
		created                  int64
		lease, started, finished sql.NullInt64
	)
	err := row.Scan(&j.ID, &j.MemberID, &j.Pool, &j.Member, &j.Kind, &args, &j.Status, &j.Attempts, &j.MaxAttempts, &lease,
		&result, &j.Error, &created, &started, &finished)
	if err != nil {
		return j, err
	}
	j.Args = json.RawMessage(args)
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	j.CreatedAt = fromMs(created)
	j.LeaseUntil, j.StartedAt, j.FinishedAt = fromNullMs(lease), fromNullMs(started), fromNullMs(finished)
	return j, nil
}

// CreateJob queues a job.
func (s *Store) CreateJob(ctx context.Context, j *Job, now time.Time) error {
	j.Status, j.CreatedAt = api.JobQueued, now.UTC()
	args := string(j.Args)
	if args == "" {
		args = "{}"
	}
	err := s.w.QueryRowContext(ctx, `INSERT INTO jobs (member_id, kind, args, status, max_attempts, created_at)
		VALUES ($1,$2,$3,$4,$5,$6) RETURNING id`, j.MemberID, j.Kind, args, j.Status, j.MaxAttempts, ms(now)).Scan(&j.ID)
	return classify(err, "job")
}

// GetJob returns one job.
func (s *Store) GetJob(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobCols+jobFrom+`WHERE j.id = $1`, id))
	return j, classify(err, fmt.Sprintf("job %d", id))
}

// ListJobs returns a member's newest jobs first.
func (s *Store) ListJobs(ctx context.Context, memberID int64, limit int) ([]Job, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobCols+jobFrom+`WHERE j.member_id = $1 ORDER BY j.id DESC LIMIT `+fmt.Sprint(limit), memberID)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ClaimJob hands the oldest queued job of a member to its agent with a
// lease. It returns nil when none is queued.
func (s *Store) ClaimJob(ctx context.Context, memberID int64, lease time.Duration, now time.Time) (*Job, error) {
	return s.claimJob(ctx, memberID, "", lease, now)
}

// ClaimJobKind is ClaimJob restricted to jobs of one kind: agents the
// version policy refuses may still take their update.
func (s *Store) ClaimJobKind(ctx context.Context, memberID int64, kind string, lease time.Duration, now time.Time) (*Job, error) {
	return s.claimJob(ctx, memberID, kind, lease, now)
}

// claimJob claims the member's oldest queued job (of kind, unless "").
func (s *Store) claimJob(ctx context.Context, memberID int64, kind string, lease time.Duration, now time.Time) (*Job, error) {
	var claimed *Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		q, args := `SELECT id FROM jobs WHERE member_id = $1 AND status = 'queued' ORDER BY id LIMIT 1`, []any{memberID}
		if kind != "" {
			q, args = `SELECT id FROM jobs WHERE member_id = $1 AND status = 'queued' AND kind = $2 ORDER BY id LIMIT 1`, []any{memberID, kind}
		}
		err := tx.QueryRowContext(ctx, q, args...).Scan(&id)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find queued job: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET status='running', attempts=attempts+1, lease_until=$1, started_at=$2
			WHERE id=$3 AND status='queued'`, ms(now.Add(lease)), ms(now), id)
		if err != nil {
			return fmt.Errorf("claim job %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another server replica took it
		}
		j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+jobFrom+`WHERE j.id = $1`, id))
		if err != nil {
			return err
		}
		claimed = &j
		return nil
	})
	return claimed, err
}

// runningJob checks that job id belongs to member and still runs.
func runningJob(ctx context.Context, tx *sql.Tx, id, memberID int64) error {
	var (
		owner  int64
		status string
	)
	err := tx.QueryRowContext(ctx, `SELECT member_id, status FROM jobs WHERE id = $1`, id).Scan(&owner, &status)
	if err == sql.ErrNoRows {
		return apperr.New(apperr.NotFound, "job %d not found", id)
	}
	if err != nil {
		return fmt.Errorf("look up job %d: %w", id, err)
	}
	if owner != memberID {
		return apperr.New(apperr.Forbidden, "job %d belongs to another member", id)
	}
	if status != api.JobRunning {
		return apperr.New(apperr.Gone, "job %d is %s; stop working on it", id, status)
	}
	return nil
}

// AppendJobLog adds lines to a running job's log and renews its lease.
func (s *Store) AppendJobLog(ctx context.Context, id, memberID int64, lines []string, leaseUntil, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := runningJob(ctx, tx, id, memberID); err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM job_logs WHERE job_id = $1`, id).Scan(&seq); err != nil {
			return fmt.Errorf("job %d log position: %w", id, err)
		}
		for _, l := range lines {
			seq++
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_logs (job_id, seq, at, line) VALUES ($1,$2,$3,$4)`, id, seq, ms(now), l); err != nil {
				return fmt.Errorf("append job %d log: %w", id, err)
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET lease_until=$1 WHERE id=$2`, ms(leaseUntil), id)
		return err
	})
}

// FinishJob records a running job's outcome.
func (s *Store) FinishJob(ctx context.Context, id, memberID int64, ok bool, result json.RawMessage, errMsg string, now time.Time) (Job, error) {
	var j Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := runningJob(ctx, tx, id, memberID); err != nil {
			return err
		}
		status := api.JobSucceeded
		if !ok {
			status = api.JobFailed
		}
		var res any
		if len(result) > 0 {
			res = string(result)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET status=$1, result=$2, error=$3, finished_at=$4, lease_until=NULL WHERE id=$5`,
			status, res, errMsg, ms(now), id); err != nil {
			return fmt.Errorf("finish job %d: %w", id, err)
		}
		var err error
		j, err = scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+jobFrom+`WHERE j.id = $1`, id))
		return err
	})
	return j, err
}

// CancelJob cancels a queued or running job.
func (s *Store) CancelJob(ctx context.Context, id int64, now time.Time) (Job, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE jobs SET status='cancelled', finished_at=$1, lease_until=NULL, error='cancelled by operator'
		WHERE id=$2 AND status IN ('queued','running')`, ms(now), id)
	if err != nil {
		return Job{}, fmt.Errorf("cancel job %d: %w", id, err)
	}
	j, gerr := s.GetJob(ctx, id)
	if gerr != nil {
		return j, gerr
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return j, apperr.New(apperr.Conflict, "job %d is already %s", id, j.Status)
	}
	return j, nil
}

// ExpireLeases requeues running jobs whose lease ran out (their agent went
// away), or fails them when they used all attempts. It returns the jobs it
// changed, in their new state.
func (s *Store) ExpireLeases(ctx context.Context, now time.Time) ([]Job, error) {
	return s.takeBack(ctx, `SELECT id, attempts, max_attempts FROM jobs WHERE status='running' AND lease_until < $1`,
		[]any{ms(now)}, nil, now, "agent stopped reporting; lease expired after all attempts")
}

// ReclaimJobs takes back a member's running jobs that its agent no longer
// runs: those started before startedBefore and not in running (the jobs the
// agent reported). They are requeued, or failed after their last attempt.
func (s *Store) ReclaimJobs(ctx context.Context, memberID int64, running []int64, startedBefore, now time.Time) ([]Job, error) {
	keep := make(map[int64]bool, len(running))
	for _, id := range running {
		keep[id] = true
	}
	return s.takeBack(ctx, `SELECT id, attempts, max_attempts FROM jobs WHERE member_id=$1 AND status='running' AND started_at < $2`,
		[]any{memberID, ms(startedBefore)}, keep, now, "agent restarted while running it, after all attempts")
}

// takeBack requeues (or fails, after their last attempt) the running jobs
// the query selects, except those in keep, and returns them as they end up.
func (s *Store) takeBack(ctx context.Context, query string, args []any, keep map[int64]bool, now time.Time, failMsg string) ([]Job, error) {
	var out []Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("find jobs to take back: %w", err)
		}
		type exp struct {
			id        int64
			att, maxA int
		}
		var list []exp
		for rows.Next() {
			var e exp
			if err := rows.Scan(&e.id, &e.att, &e.maxA); err != nil {
				rows.Close()
				return err
			}
			if !keep[e.id] {
				list = append(list, e)
			}
		}
		rows.Close()
		for _, e := range list {
			if e.att < e.maxA {
				_, err = tx.ExecContext(ctx, `UPDATE jobs SET status='queued', lease_until=NULL WHERE id=$1`, e.id)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE jobs SET status='failed', lease_until=NULL, finished_at=$1, error=$2 WHERE id=$3`,
					ms(now), failMsg, e.id)
			}
			if err != nil {
				return fmt.Errorf("take back job %d: %w", e.id, err)
			}
			j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+jobFrom+`WHERE j.id = $1`, e.id))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// JobLog returns log lines after seq.
func (s *Store) JobLog(ctx context.Context, id, after int64, limit int) ([]api.JobLogLine, error) {
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, line FROM job_logs WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT `+fmt.Sprint(limit), id, after)
	if err != nil {
		return nil, fmt.Errorf("read job %d log: %w", id, err)
	}
	defer rows.Close()
	var out []api.JobLogLine
	for rows.Next() {
		var (
			l  api.JobLogLine
			at int64
		)
		if err := rows.Scan(&l.Seq, &at, &l.Line); err != nil {
			return nil, err
		}
		l.Time = fromMs(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// RenewJobLeases extends the leases of running jobs of the given members,
// whose agents are alive (see RunningJobMembers for the few that hold one).
func (s *Store) RenewJobLeases(ctx context.Context, memberIDs []int64, until time.Time) error {
	for _, id := range memberIDs {
		if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET lease_until=$1 WHERE member_id=$2 AND status='running' AND lease_until < $1`, ms(until), id); err != nil {
			return fmt.Errorf("renew job leases: %w", err)
		}
	}
	return nil
}

// RunningJobMembers returns the members that hold running jobs.
func (s *Store) RunningJobMembers(ctx context.Context) (map[int64]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT member_id FROM jobs WHERE status='running'`)
	if err != nil {
		return nil, fmt.Errorf("find running jobs: %w", err)
	}
	defer rows.Close()
	holding := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		holding[id] = true
	}
	return holding, rows.Err()
}
