package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MaintenanceWindow is a pool's or a member's maintenance window: one-off
// (StartsAt until EndsAt) or scheduled (every activation of Cron, in UTC,
// opens a window of Duration).
type MaintenanceWindow struct {
	ID            int64
	PoolID        int64
	Pool          string // filled when listed
	Member        string // "" for the whole pool
	Reason        string
	PauseFailover bool
	StartsAt      time.Time
	EndsAt        *time.Time // one-off windows
	Cron          string     // scheduled windows
	Duration      time.Duration
	CreatedAt     time.Time
}

const maintenanceSelect = `SELECT w.id, w.pool_id, p.name, w.member, w.reason, w.pause_failover, w.starts_at, w.ends_at, w.cron, w.duration_ms, w.created_at
	FROM maintenance_windows w JOIN pools p ON p.id = w.pool_id `

// CreateMaintenance stores a new window and sets its ID.
func (s *Store) CreateMaintenance(ctx context.Context, w *MaintenanceWindow, now time.Time) error {
	w.CreatedAt = fromMs(ms(now))
	err := s.w.QueryRowContext(ctx, `INSERT INTO maintenance_windows (pool_id, member, reason, pause_failover, starts_at, ends_at, cron, duration_ms, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id`,
		w.PoolID, w.Member, w.Reason, w.PauseFailover, ms(w.StartsAt), msPtr(w.EndsAt), w.Cron, w.Duration.Milliseconds(), ms(now)).Scan(&w.ID)
	if err != nil {
		return fmt.Errorf("insert maintenance window: %w", err)
	}
	return nil
}

// ListMaintenance lists the windows of pool ("" every pool), one-off ones
// that ended before since left out, by pool, member and id.
func (s *Store) ListMaintenance(ctx context.Context, pool string, since time.Time) ([]MaintenanceWindow, error) {
	q, args := maintenanceSelect+`WHERE (w.ends_at IS NULL OR w.ends_at > $1) `, []any{ms(since)}
	if pool != "" {
		q += `AND p.name = $2 `
		args = append(args, pool)
	}
	rows, err := s.db.QueryContext(ctx, q+`ORDER BY p.name, w.member, w.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list maintenance windows: %w", err)
	}
	defer rows.Close()
	var out []MaintenanceWindow
	for rows.Next() {
		var (
			w                 MaintenanceWindow
			start, dur, creat int64
			end               sql.NullInt64
		)
		if err := rows.Scan(&w.ID, &w.PoolID, &w.Pool, &w.Member, &w.Reason, &w.PauseFailover, &start, &end, &w.Cron, &dur, &creat); err != nil {
			return nil, fmt.Errorf("read maintenance window: %w", err)
		}
		w.StartsAt, w.EndsAt, w.Duration, w.CreatedAt = fromMs(start), fromNullMs(end), time.Duration(dur)*time.Millisecond, fromMs(creat)
		out = append(out, w)
	}
	return out, rows.Err()
}

// StopMaintenance ends the windows of one target (member "" the pool's
// own): one-off windows still open end at now, scheduled ones are removed.
// It returns how many windows it ended or removed.
func (s *Store) StopMaintenance(ctx context.Context, poolID int64, member string, now time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE maintenance_windows SET ends_at = $1 WHERE pool_id = $2 AND member = $3 AND cron = '' AND ends_at > $1`, ms(now), poolID, member)
		if err != nil {
			return fmt.Errorf("end maintenance windows: %w", err)
		}
		a, _ := res.RowsAffected()
		if res, err = tx.ExecContext(ctx, `DELETE FROM maintenance_windows WHERE pool_id = $1 AND member = $2 AND cron <> ''`, poolID, member); err != nil {
			return fmt.Errorf("remove scheduled maintenance windows: %w", err)
		}
		b, _ := res.RowsAffected()
		n = int(a + b)
		return nil
	})
	return n, err
}
