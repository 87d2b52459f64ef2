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

// Pool is a pool row.
type Pool struct {
	ID               int64
	Name             string
	Preset           string
	Description      string
	FailoverRecord   string
	FailoverDelay    time.Duration
	TTL              int
	Failback         string
	HeartbeatTimeout time.Duration
	Hook             string
	DNSProvider      string // the provider of the failover record; "" = the built-in zones
	ActiveMemberID   int64  // 0 when none
	Banner           *api.Banner
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

const poolCols = `id, name, preset, description, failover_record, failover_delay_ms, ttl, failback,
	heartbeat_timeout_ms, hook, active_member_id, banner, created_at, updated_at, dns_provider`

func scanPool(row interface{ Scan(...any) error }) (Pool, error) {
	var (
		p              Pool
		delay, timeout int64
		active         sql.NullInt64
		banner         sql.NullString
		created, upd   int64
	)
	err := row.Scan(&p.ID, &p.Name, &p.Preset, &p.Description, &p.FailoverRecord, &delay, &p.TTL, &p.Failback,
		&timeout, &p.Hook, &active, &banner, &created, &upd, &p.DNSProvider)
	if err != nil {
		return p, err
	}
	p.FailoverDelay = time.Duration(delay) * time.Millisecond
	p.HeartbeatTimeout = time.Duration(timeout) * time.Millisecond
	p.ActiveMemberID = active.Int64
	if banner.Valid && banner.String != "" {
		var b api.Banner
		if json.Unmarshal([]byte(banner.String), &b) == nil {
			p.Banner = &b
		}
	}
	p.CreatedAt, p.UpdatedAt = fromMs(created), fromMs(upd)
	return p, nil
}

// CreatePool inserts p and sets its ID and times. A duplicate name is a
// Conflict.
func (s *Store) CreatePool(ctx context.Context, p *Pool, now time.Time) error {
	p.CreatedAt, p.UpdatedAt = now.UTC(), now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO pools (name, preset, description, failover_record, failover_delay_ms,
		ttl, failback, heartbeat_timeout_ms, hook, created_at, updated_at, dns_provider)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING id`,
		p.Name, p.Preset, p.Description, p.FailoverRecord, p.FailoverDelay.Milliseconds(), p.TTL, p.Failback,
		p.HeartbeatTimeout.Milliseconds(), p.Hook, ms(now), ms(now), p.DNSProvider).Scan(&p.ID)
	return classify(err, fmt.Sprintf("pool %q", p.Name))
}

// GetPool returns the pool called name.
func (s *Store) GetPool(ctx context.Context, name string) (Pool, error) {
	p, err := scanPool(s.db.QueryRowContext(ctx, `SELECT `+poolCols+` FROM pools WHERE name = $1`, name))
	return p, classify(err, fmt.Sprintf("pool %q", name))
}

// ListPools returns all pools by name.
func (s *Store) ListPools(ctx context.Context) ([]Pool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+poolCols+` FROM pools ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	defer rows.Close()
	var out []Pool
	for rows.Next() {
		p, err := scanPool(rows)
		if err != nil {
			return nil, fmt.Errorf("list pools: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePool writes the settings of p (not its active member or banner).
func (s *Store) UpdatePool(ctx context.Context, p *Pool, now time.Time) error {
	p.UpdatedAt = now.UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE pools SET description=$1, failover_record=$2, failover_delay_ms=$3,
		ttl=$4, failback=$5, heartbeat_timeout_ms=$6, hook=$7, updated_at=$8, dns_provider=$10 WHERE id=$9`,
		p.Description, p.FailoverRecord, p.FailoverDelay.Milliseconds(), p.TTL, p.Failback,
		p.HeartbeatTimeout.Milliseconds(), p.Hook, ms(now), p.ID, p.DNSProvider)
	return mustAffect(res, err, fmt.Sprintf("pool %q", p.Name))
}

// SetActiveMember records the member the pool's failover record points at
// (0 for none) and, when banner is non-nil, the failover banner. epoch, when
// positive, fences the write: it is refused unless the named lease still has
// that epoch (see AcquireLease).
func (s *Store) SetActiveMember(ctx context.Context, poolID, memberID int64, banner *api.Banner, lease string, epoch int64, now time.Time) error {
	var active any
	if memberID != 0 {
		active = memberID
	}
	var b any
	if banner != nil {
		raw, _ := json.Marshal(banner)
		b = string(raw)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := checkEpoch(ctx, tx, lease, epoch); err != nil {
			return err
		}
		q := `UPDATE pools SET active_member_id=$1, updated_at=$2 WHERE id=$3`
		args := []any{active, ms(now), poolID}
		if banner != nil {
			q = `UPDATE pools SET active_member_id=$1, updated_at=$2, banner=$4 WHERE id=$3`
			args = append(args, b)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		return mustAffect(res, err, fmt.Sprintf("pool %d", poolID))
	})
}

// AckBanner marks a pool's failover banner acknowledged by who at now. It
// fails with a Conflict wrapping ErrBannerChanged when the pool's banner is
// no longer the one of failover at (a newer failover replaced it).
func (s *Store) AckBanner(ctx context.Context, poolID int64, at time.Time, eventID int64, who string, now time.Time) (*api.Banner, error) {
	var out *api.Banner
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var raw sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT banner FROM pools WHERE id=$1`, poolID).Scan(&raw); err != nil {
			return classify(err, fmt.Sprintf("pool %d", poolID))
		}
		var b api.Banner
		if !raw.Valid || raw.String == "" || json.Unmarshal([]byte(raw.String), &b) != nil || !b.At.Equal(at) || b.EventID != eventID {
			return apperr.Wrap(apperr.Conflict, ErrBannerChanged, "the pool failed over again meanwhile")
		}
		if b.AcknowledgedAt == nil {
			t := now.UTC()
			b.AcknowledgedAt, b.AcknowledgedBy = &t, who
			enc, _ := json.Marshal(b)
			if _, err := tx.ExecContext(ctx, `UPDATE pools SET banner=$1, updated_at=$2 WHERE id=$3`, string(enc), ms(now), poolID); err != nil {
				return fmt.Errorf("acknowledge banner: %w", err)
			}
		}
		out = &b
		return nil
	})
	return out, err
}

// ErrBannerChanged: the banner to acknowledge was replaced by a newer one.
var ErrBannerChanged = errors.New("failover banner changed")

// ClearBanner removes a pool's failover banner.
func (s *Store) ClearBanner(ctx context.Context, poolID int64, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE pools SET banner=NULL, updated_at=$1 WHERE id=$2`, ms(now), poolID)
	return mustAffect(res, err, fmt.Sprintf("pool %d", poolID))
}

// DeletePool removes a pool and, through cascades, its members, their
// secrets, jobs and samples. The agents' tokens are tomb-stoned so that
// they are told they were removed. It returns the names of removed members.
func (s *Store) DeletePool(ctx context.Context, poolID int64, now time.Time) ([]string, error) {
	var names []string
	err := s.txRetry(ctx, func(tx *sql.Tx) error {
		var err error
		names, err = tombstoneMembers(ctx, tx, `pool_id = $1`, poolID, now)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM pools WHERE id = $1`, poolID)
		return mustAffect(res, err, fmt.Sprintf("pool %d", poolID))
	})
	return names, err
}

func mustAffect(res sql.Result, err error, what string) error {
	if err != nil {
		return classify(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return classify(sql.ErrNoRows, what)
	}
	return nil
}
