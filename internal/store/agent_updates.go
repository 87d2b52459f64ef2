package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// EnsureReleaseKey stores the release key (public in the clear, private
// sealed) unless one is stored, and returns the stored one: replicas that
// start together agree on the first.
func (s *Store) EnsureReleaseKey(ctx context.Context, public, sealed string, now time.Time) (string, string, error) {
	var pub, seal string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO release_keys (id, public_key, sealed, created_at) VALUES (1,$1,$2,$3) ON CONFLICT (id) DO NOTHING`,
			public, sealed, ms(now)); err != nil {
			return fmt.Errorf("store release key: %w", err)
		}
		return tx.QueryRowContext(ctx, `SELECT public_key, sealed FROM release_keys WHERE id = 1`).Scan(&pub, &seal)
	})
	return pub, seal, err
}

// NoteAgentVersion records that a notice of kind (outdated, refused) was
// raised for a member's agent version; first is false when it had been.
func (s *Store) NoteAgentVersion(ctx context.Context, memberID int64, kind, version string, now time.Time) (first bool, err error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO agent_version_notices (member_id, kind, version, noticed_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (member_id, kind, version) DO NOTHING`, memberID, kind, version, ms(now))
	if err != nil {
		return false, fmt.Errorf("record agent version notice: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Rollout is a rolling agent update of a pool as stored.
type Rollout struct {
	api.Rollout
	PoolID        int64
	RollbackAfter time.Duration
	// StepStartedAt is when the current member's update was queued.
	StepStartedAt *time.Time
	Steps         []RolloutStep
}

// RolloutStep is one member of a rollout, in order.
type RolloutStep struct {
	Position int
	MemberID int64
	api.RolloutMember
}

// CreateRollout stores a new running rollout with its steps. A pool has at
// most one running rollout: a second is a Conflict.
func (s *Store) CreateRollout(ctx context.Context, r *Rollout, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var running int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM agent_rollouts WHERE pool_id = $1 AND status = 'running'`, r.PoolID).Scan(&running)
		if err == nil {
			return apperr.New(apperr.Conflict, "pool %s already has an agent update in progress (rollout %d); see `poolctl pool update-agents %s --status`", r.Pool, running, r.Pool)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("look for running rollouts: %w", err)
		}
		r.Status, r.CreatedAt, r.UpdatedAt = api.RolloutRunning, now.UTC(), now.UTC()
		if err := tx.QueryRowContext(ctx, `INSERT INTO agent_rollouts (pool_id, version, status, message, rollback_after_ms, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$6) RETURNING id`, r.PoolID, r.Version, r.Status, r.Message, r.RollbackAfter.Milliseconds(), ms(now)).Scan(&r.ID); err != nil {
			return classify(err, "rollout")
		}
		for i := range r.Steps {
			st := &r.Steps[i]
			st.Position = i
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_rollout_members (rollout_id, position, member_id, status, from_version, note)
				VALUES ($1,$2,$3,$4,$5,$6)`, r.ID, i, st.MemberID, st.Status, st.From, st.Note); err != nil {
				return classify(err, "rollout member")
			}
		}
		return nil
	})
}

// SaveRollout writes a rollout's state and its steps' states.
func (s *Store) SaveRollout(ctx context.Context, r *Rollout, now time.Time) error {
	r.UpdatedAt = now.UTC()
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agent_rollouts SET status=$1, message=$2, step_started_at=$3, updated_at=$4, finished_at=$5 WHERE id=$6`,
			r.Status, r.Message, msPtr(r.StepStartedAt), ms(now), msPtr(r.FinishedAt), r.ID)
		if err != nil {
			return fmt.Errorf("save rollout %d: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "rollout %d not found (its pool was deleted?)", r.ID)
		}
		for _, st := range r.Steps {
			var job any
			if st.Job != 0 {
				job = st.Job
			}
			if _, err := tx.ExecContext(ctx, `UPDATE agent_rollout_members SET status=$1, from_version=$2, job_id=$3, note=$4 WHERE rollout_id=$5 AND position=$6`,
				st.Status, st.From, job, st.Note, r.ID, st.Position); err != nil {
				return fmt.Errorf("save rollout %d member %s: %w", r.ID, st.Member, err)
			}
		}
		return nil
	})
}

const rolloutCols = `r.id, r.pool_id, p.name, r.version, r.status, r.message, r.rollback_after_ms, r.step_started_at, r.created_at, r.updated_at, r.finished_at
	FROM agent_rollouts r JOIN pools p ON p.id = r.pool_id `

func (s *Store) rollouts(ctx context.Context, where string, args ...any) ([]Rollout, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+rolloutCols+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list rollouts: %w", err)
	}
	var out []Rollout
	for rows.Next() {
		var (
			r                Rollout
			rb, created, upd int64
			stepAt, finished sql.NullInt64
		)
		if err := rows.Scan(&r.ID, &r.PoolID, &r.Pool, &r.Version, &r.Status, &r.Message, &rb, &stepAt, &created, &upd, &finished); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read rollout: %w", err)
		}
		r.RollbackAfter = time.Duration(rb) * time.Millisecond
		r.StepStartedAt, r.FinishedAt = fromNullMs(stepAt), fromNullMs(finished)
		r.CreatedAt, r.UpdatedAt = fromMs(created), fromMs(upd)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.rolloutSteps(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) rolloutSteps(ctx context.Context, r *Rollout) error {
	rows, err := s.db.QueryContext(ctx, `SELECT rm.position, rm.member_id, m.name, rm.status, rm.from_version, rm.job_id, rm.note
		FROM agent_rollout_members rm JOIN members m ON m.id = rm.member_id WHERE rm.rollout_id = $1 ORDER BY rm.position`, r.ID)
	if err != nil {
		return fmt.Errorf("list rollout %d members: %w", r.ID, err)
	}
	defer rows.Close()
	r.Steps, r.Members, r.Done = nil, []api.RolloutMember{}, 0
	for rows.Next() {
		var (
			st  RolloutStep
			job sql.NullInt64
		)
		if err := rows.Scan(&st.Position, &st.MemberID, &st.Member, &st.Status, &st.From, &job, &st.Note); err != nil {
			return fmt.Errorf("read rollout member: %w", err)
		}
		st.Job = job.Int64
		r.Steps = append(r.Steps, st)
		r.Members = append(r.Members, st.RolloutMember)
		if st.Status == api.RolloutMemberDone || st.Status == api.RolloutMemberSkipped {
			r.Done++
		}
	}
	return rows.Err()
}

// RunningRollouts lists the rollouts in progress, oldest first.
func (s *Store) RunningRollouts(ctx context.Context) ([]Rollout, error) {
	return s.rollouts(ctx, `WHERE r.status = 'running' ORDER BY r.id`)
}

// LatestRollout returns a pool's newest rollout; NotFound when it never had one.
func (s *Store) LatestRollout(ctx context.Context, poolID int64) (Rollout, error) {
	rs, err := s.rollouts(ctx, `WHERE r.pool_id = $1 ORDER BY r.id DESC LIMIT 1`, poolID)
	if err != nil {
		return Rollout{}, err
	}
	if len(rs) == 0 {
		return Rollout{}, apperr.New(apperr.NotFound, "no agent update was started in this pool")
	}
	return rs[0], nil
}
