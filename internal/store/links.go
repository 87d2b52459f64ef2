package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// SetMemberProfile writes a member's profile.
func (s *Store) SetMemberProfile(ctx context.Context, memberID int64, profile string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE members SET profile = $1, updated_at = $2 WHERE id = $3`, profile, ms(now), memberID)
	return mustAffect(res, err, fmt.Sprintf("member %d", memberID))
}

// Link pairs a parent member with a child that serves one function for
// some of the parent's accounts.
type Link struct {
	ID        int64
	PoolID    int64
	Pool      string
	ParentID  int64
	Parent    string
	ChildID   int64
	Child     string
	Function  string
	Accounts  int // distributions on the link, retained copies included
	CreatedAt time.Time
}

const linkSelect = `SELECT l.id, l.pool_id, p.name, l.parent_id, pm.name, l.child_id, cm.name, l.function, l.created_at,
	(SELECT COUNT(*) FROM distributions d WHERE d.link_id = l.id)
	FROM links l JOIN pools p ON p.id = l.pool_id JOIN members pm ON pm.id = l.parent_id JOIN members cm ON cm.id = l.child_id `

func scanLink(row interface{ Scan(...any) error }) (Link, error) {
	var (
		l       Link
		created int64
	)
	err := row.Scan(&l.ID, &l.PoolID, &l.Pool, &l.ParentID, &l.Parent, &l.ChildID, &l.Child, &l.Function, &created, &l.Accounts)
	l.CreatedAt = fromMs(created)
	return l, err
}

// CreateLink stores a link. The child's having a parent already is a
// Conflict naming that parent; the check and the insert share a
// transaction (and the UNIQUE child_id catches a concurrent one).
func (s *Store) CreateLink(ctx context.Context, l *Link, now time.Time) error {
	l.CreatedAt = now.UTC()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var parent string
		err := tx.QueryRowContext(ctx, `SELECT m.name FROM links l JOIN members m ON m.id = l.parent_id WHERE l.child_id = $1`, l.ChildID).Scan(&parent)
		if err == nil {
			return apperr.New(apperr.Conflict, "member %s is already the child of %s: a child has exactly one parent (remove that link first)", l.Child, parent)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the child's link: %w", err)
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO links (pool_id, parent_id, child_id, function, created_at) VALUES ($1,$2,$3,$4,$5) RETURNING id`,
			l.PoolID, l.ParentID, l.ChildID, l.Function, ms(now)).Scan(&l.ID)
		if err != nil {
			err = classify(err, fmt.Sprintf("link of child %s", l.Child))
			if errors.Is(err, apperr.Conflict) {
				return apperr.New(apperr.Conflict, "member %s is already the child of another parent: a child has exactly one parent", l.Child)
			}
		}
		return err
	})
}

// ListLinks lists the links of a pool (all pools when poolID is 0), by
// pool, parent and child.
func (s *Store) ListLinks(ctx context.Context, poolID int64) ([]Link, error) {
	q, args := linkSelect, []any{}
	if poolID != 0 {
		q += `WHERE l.pool_id = $1 `
		args = append(args, poolID)
	}
	rows, err := s.db.QueryContext(ctx, q+`ORDER BY p.name, pm.name, cm.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("read link: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// LinkOfChild returns the link whose child is the member childID.
func (s *Store) LinkOfChild(ctx context.Context, childID int64, child string) (Link, error) {
	l, err := scanLink(s.db.QueryRowContext(ctx, linkSelect+`WHERE l.child_id = $1`, childID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, apperr.New(apperr.NotFound, "member %s is not a linked child", child)
	}
	return l, classify(err, "link")
}

// GetLink returns a link by id.
func (s *Store) GetLink(ctx context.Context, id int64) (Link, error) {
	l, err := scanLink(s.db.QueryRowContext(ctx, linkSelect+`WHERE l.id = $1`, id))
	return l, classify(err, fmt.Sprintf("link %d", id))
}

// DeleteLink removes a link; refused (Conflict, naming them) while
// accounts are distributed to its child or the child keeps a copy. The
// check and the delete share a transaction.
func (s *Store) DeleteLink(ctx context.Context, l Link) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT account, state FROM distributions WHERE link_id = $1 ORDER BY account`, l.ID)
		if err != nil {
			return fmt.Errorf("read distributions: %w", err)
		}
		var busy []string
		for rows.Next() {
			var a, st string
			if err := rows.Scan(&a, &st); err != nil {
				rows.Close()
				return err
			}
			busy = append(busy, a+" ("+st+")")
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(busy) > 0 {
			return apperr.New(apperr.Conflict, "the link %s → %s still carries %d account(s): %s; dedistribute them first (`poolctl account dedistribute %s %s ACCOUNT --mail`), and wait until the child's retained copies are deleted",
				l.Parent, l.Child, len(busy), strings.Join(busy, ", "), l.Pool, l.Parent)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM links WHERE id = $1`, l.ID)
		return mustAffect(res, err, fmt.Sprintf("link of child %s", l.Child))
	})
}

// Distribution states.
const (
	DistDistributing   = "distributing"
	DistDistributed    = "distributed"
	DistDedistributing = "dedistributing"
	DistRetained       = "retained" // back on the parent; the child keeps a copy until KeepUntil
)

// Distribution is an account's mail on a link's child.
type Distribution struct {
	ID        int64
	LinkID    int64
	ParentID  int64
	Function  string
	Account   string
	State     string
	Token     string
	Mail      string // JSON (links.mailInfo): domains and users the parent proxies
	KeepUntil *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

const distCols = `id, link_id, parent_id, function, account, state, token, mail, keep_until, created_at, updated_at`

func scanDist(row interface{ Scan(...any) error }) (Distribution, error) {
	var (
		d          Distribution
		keep       sql.NullInt64
		created, u int64
	)
	err := row.Scan(&d.ID, &d.LinkID, &d.ParentID, &d.Function, &d.Account, &d.State, &d.Token, &d.Mail, &keep, &created, &u)
	d.KeepUntil, d.CreatedAt, d.UpdatedAt = fromNullMs(keep), fromMs(created), fromMs(u)
	return d, err
}

// DistributionRun is one run moving an account's mail to a child
// (distribute) or back (dedistribute).
type DistributionRun struct {
	ID             int64
	DistributionID int64
	LinkID         int64
	Pool           string
	Parent         string
	Child          string
	Account        string
	Direction      string
	Step           string
	Status         string
	JobID          int64
	LogCursor      int64
	State          string // JSON, the engine's
	Forced         bool
	Error          string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     *time.Time
}

const distRunCols = `id, distribution_id, link_id, pool, parent, child, account, direction, step, status, job_id, log_cursor, state, forced, error, created_at, updated_at, finished_at`

func scanDistRun(row interface{ Scan(...any) error }) (DistributionRun, error) {
	var (
		r          DistributionRun
		fin        sql.NullInt64
		created, u int64
	)
	err := row.Scan(&r.ID, &r.DistributionID, &r.LinkID, &r.Pool, &r.Parent, &r.Child, &r.Account, &r.Direction, &r.Step, &r.Status,
		&r.JobID, &r.LogCursor, &r.State, &r.Forced, &r.Error, &created, &u, &fin)
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = fromMs(created), fromMs(u), fromNullMs(fin)
	return r, err
}

// StartDistribution creates the account's distribution on l (state
// distributing) and its first run, in one transaction. An account that
// has a distribution for the function already is a Conflict naming it.
func (s *Store) StartDistribution(ctx context.Context, l Link, d *Distribution, r *DistributionRun, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanDist(tx.QueryRowContext(ctx, `SELECT `+distCols+` FROM distributions WHERE parent_id = $1 AND function = $2 AND account = $3`,
			l.ParentID, l.Function, d.Account))
		if err == nil {
			var child string
			_ = tx.QueryRowContext(ctx, `SELECT m.name FROM links k JOIN members m ON m.id = k.child_id WHERE k.id = $1`, cur.LinkID).Scan(&child)
			return apperr.New(apperr.Conflict, "account %s already has its %s on child %s (%s): an account uses at most one child per function", d.Account, l.Function, child, cur.State)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read distribution: %w", err)
		}
		d.LinkID, d.ParentID, d.Function, d.State = l.ID, l.ParentID, l.Function, DistDistributing
		d.CreatedAt, d.UpdatedAt = now.UTC(), now.UTC()
		if d.Mail == "" {
			d.Mail = "{}"
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO distributions (link_id, parent_id, function, account, state, token, mail, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8) RETURNING id`, d.LinkID, d.ParentID, d.Function, d.Account, d.State, d.Token, d.Mail, ms(now)).Scan(&d.ID)
		if err != nil {
			return classify(err, fmt.Sprintf("distribution of account %s", d.Account))
		}
		r.DistributionID = d.ID
		return insertDistRun(ctx, tx, r, now)
	})
}

// StartDedistribution moves a distributed account to dedistributing and
// creates the run, in one transaction; Conflict unless it is distributed.
func (s *Store) StartDedistribution(ctx context.Context, d Distribution, r *DistributionRun, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE distributions SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4`,
			DistDedistributing, ms(now), d.ID, DistDistributed)
		if err != nil {
			return fmt.Errorf("update distribution: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "account %s is not distributed (a run is under way, or it is back on its parent)", d.Account)
		}
		r.DistributionID = d.ID
		return insertDistRun(ctx, tx, r, now)
	})
}

func insertDistRun(ctx context.Context, tx *sql.Tx, r *DistributionRun, now time.Time) error {
	r.CreatedAt, r.UpdatedAt = now.UTC(), now.UTC()
	if r.State == "" {
		r.State = "{}"
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO distribution_runs (distribution_id, link_id, pool, parent, child, account, direction, step, status, state, forced, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$12) RETURNING id`,
		r.DistributionID, r.LinkID, r.Pool, r.Parent, r.Child, r.Account, r.Direction, r.Step, r.Status, r.State, r.Forced, ms(now)).Scan(&r.ID)
	return classify(err, "distribution run")
}

// GetDistribution returns the distribution of account for function by the
// parent member parentID.
func (s *Store) GetDistribution(ctx context.Context, parentID int64, function, account string) (Distribution, error) {
	d, err := scanDist(s.db.QueryRowContext(ctx, `SELECT `+distCols+` FROM distributions WHERE parent_id = $1 AND function = $2 AND account = $3`, parentID, function, account))
	if errors.Is(err, sql.ErrNoRows) {
		return d, apperr.New(apperr.NotFound, "account %s has no %s on a child", account, function)
	}
	return d, classify(err, "distribution")
}

// GetDistributionByID returns one distribution.
func (s *Store) GetDistributionByID(ctx context.Context, id int64) (Distribution, error) {
	d, err := scanDist(s.db.QueryRowContext(ctx, `SELECT `+distCols+` FROM distributions WHERE id = $1`, id))
	return d, classify(err, fmt.Sprintf("distribution %d", id))
}

// ListDistributions lists the distributions of a link (every link when
// linkID is 0), by account.
func (s *Store) ListDistributions(ctx context.Context, linkID int64) ([]Distribution, error) {
	q, args := `SELECT `+distCols+` FROM distributions `, []any{}
	if linkID != 0 {
		q += `WHERE link_id = $1 `
		args = append(args, linkID)
	}
	rows, err := s.db.QueryContext(ctx, q+`ORDER BY account`, args...)
	if err != nil {
		return nil, fmt.Errorf("list distributions: %w", err)
	}
	defer rows.Close()
	var out []Distribution
	for rows.Next() {
		d, err := scanDist(rows)
		if err != nil {
			return nil, fmt.Errorf("read distribution: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ListDistributionsOfParent lists the distributions of every link of the
// parent member parentID.
func (s *Store) ListDistributionsOfParent(ctx context.Context, parentID int64) ([]Distribution, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+distCols+` FROM distributions WHERE parent_id = $1 ORDER BY account`, parentID)
	if err != nil {
		return nil, fmt.Errorf("list distributions: %w", err)
	}
	defer rows.Close()
	var out []Distribution
	for rows.Next() {
		d, err := scanDist(rows)
		if err != nil {
			return nil, fmt.Errorf("read distribution: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// UpdateDistribution writes a distribution's state, mail and keep-until.
func (s *Store) UpdateDistribution(ctx context.Context, d *Distribution, now time.Time) error {
	d.UpdatedAt = now.UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE distributions SET state = $1, mail = $2, keep_until = $3, updated_at = $4 WHERE id = $5`,
		d.State, d.Mail, msPtr(d.KeepUntil), ms(now), d.ID)
	return mustAffect(res, err, fmt.Sprintf("distribution %d", d.ID))
}

// DeleteDistribution removes a distribution (failed first distribution, or
// a retained copy that was deleted).
func (s *Store) DeleteDistribution(ctx context.Context, id int64) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM distributions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete distribution %d: %w", id, err)
	}
	return nil
}

// GetDistributionRun returns one run.
func (s *Store) GetDistributionRun(ctx context.Context, id int64) (DistributionRun, error) {
	r, err := scanDistRun(s.db.QueryRowContext(ctx, `SELECT `+distRunCols+` FROM distribution_runs WHERE id = $1`, id))
	return r, classify(err, fmt.Sprintf("distribution run %d", id))
}

// ListDistributionRuns lists runs: those not finished when active, else
// the newest first of one account (account "" for all), at most limit.
func (s *Store) ListDistributionRuns(ctx context.Context, active bool, pool, account string, limit int) ([]DistributionRun, error) {
	q, args := `SELECT `+distRunCols+` FROM distribution_runs WHERE 1=1 `, []any{}
	if active {
		q += `AND finished_at IS NULL `
	}
	if pool != "" {
		args = append(args, pool)
		q += fmt.Sprintf(`AND pool = $%d `, len(args))
	}
	if account != "" {
		args = append(args, account)
		q += fmt.Sprintf(`AND account = $%d `, len(args))
	}
	if active {
		q += `ORDER BY id`
	} else {
		q += `ORDER BY id DESC`
	}
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list distribution runs: %w", err)
	}
	defer rows.Close()
	var out []DistributionRun
	for rows.Next() {
		r, err := scanDistRun(rows)
		if err != nil {
			return nil, fmt.Errorf("read distribution run: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrDistRunEnded is returned by UpdateDistributionRun for a run that
// finished meanwhile (on another replica).
var ErrDistRunEnded = errors.New("distribution run has ended")

// UpdateDistributionRun writes a run's progress, unless it has ended.
func (s *Store) UpdateDistributionRun(ctx context.Context, r *DistributionRun, now time.Time) error {
	r.UpdatedAt = now.UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE distribution_runs SET step = $1, status = $2, job_id = $3, log_cursor = $4, state = $5, error = $6,
		updated_at = $7, finished_at = $8 WHERE id = $9 AND finished_at IS NULL`,
		r.Step, r.Status, r.JobID, r.LogCursor, r.State, r.Error, ms(now), msPtr(r.FinishedAt), r.ID)
	if err != nil {
		return fmt.Errorf("update distribution run %d: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrDistRunEnded
	}
	return nil
}

// AppendDistributionLog adds lines to a run's log.
func (s *Store) AppendDistributionLog(ctx context.Context, runID int64, lines []api.RunLogLine) error {
	if len(lines) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM distribution_run_log WHERE run_id = $1`, runID).Scan(&seq); err != nil {
			return fmt.Errorf("read run log: %w", err)
		}
		for _, l := range lines {
			seq++
			if _, err := tx.ExecContext(ctx, `INSERT INTO distribution_run_log (run_id, seq, at, line) VALUES ($1,$2,$3,$4)`, runID, seq, ms(l.Time), l.Line); err != nil {
				return fmt.Errorf("append run log: %w", err)
			}
		}
		return nil
	})
}

// DistributionLog returns a run's log lines after seq, at most limit (1000
// when 0).
func (s *Store) DistributionLog(ctx context.Context, runID, after int64, limit int) ([]api.RunLogLine, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT seq, at, line FROM distribution_run_log WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT %d`, limit), runID, after)
	if err != nil {
		return nil, fmt.Errorf("read run log: %w", err)
	}
	defer rows.Close()
	var out []api.RunLogLine
	for rows.Next() {
		var (
			l  api.RunLogLine
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

// AddDistributionRun adds a run to an existing distribution (a resumed run,
// or the deletion of a retained copy); Conflict while another of its runs
// has not ended.
func (s *Store) AddDistributionRun(ctx context.Context, distID int64, r *DistributionRun, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM distribution_runs WHERE distribution_id = $1 AND finished_at IS NULL`, distID).Scan(&n); err != nil {
			return fmt.Errorf("read distribution runs: %w", err)
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "account %s has a distribution run under way already", r.Account)
		}
		r.DistributionID = distID
		return insertDistRun(ctx, tx, r, now)
	})
}
