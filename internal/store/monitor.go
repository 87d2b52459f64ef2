package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MonitorRoute sends a pool's alerts of a severity (and worse) to a channel.
type MonitorRoute struct {
	PoolID    int64
	Pool      string
	ChannelID int64
	Channel   string
	Severity  string // critical: critical only; warning: warning and critical
}

// SetMonitorRoute adds or changes a pool's route to a channel.
func (s *Store) SetMonitorRoute(ctx context.Context, poolID, channelID int64, severity string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM monitor_routes WHERE pool_id = $1 AND channel_id = $2`, poolID, channelID); err != nil {
			return fmt.Errorf("replace route: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO monitor_routes (pool_id, channel_id, severity) VALUES ($1,$2,$3)`, poolID, channelID, severity)
		return classify(err, "monitor route")
	})
}

// DeleteMonitorRoute removes a pool's route to a channel.
func (s *Store) DeleteMonitorRoute(ctx context.Context, poolID, channelID int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM monitor_routes WHERE pool_id = $1 AND channel_id = $2`, poolID, channelID)
	return mustAffect(res, err, "monitor route")
}

// ListMonitorRoutes lists the routes of a pool (every pool when poolID is
// 0), by pool and channel.
func (s *Store) ListMonitorRoutes(ctx context.Context, poolID int64) ([]MonitorRoute, error) {
	q := `SELECT r.pool_id, p.name, r.channel_id, c.name, r.severity FROM monitor_routes r
		JOIN pools p ON p.id = r.pool_id JOIN notify_channels c ON c.id = r.channel_id `
	var args []any
	if poolID != 0 {
		q += `WHERE r.pool_id = $1 `
		args = append(args, poolID)
	}
	rows, err := s.db.QueryContext(ctx, q+`ORDER BY p.name, c.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list monitor routes: %w", err)
	}
	defer rows.Close()
	var out []MonitorRoute
	for rows.Next() {
		var r MonitorRoute
		if err := rows.Scan(&r.PoolID, &r.Pool, &r.ChannelID, &r.Channel, &r.Severity); err != nil {
			return nil, fmt.Errorf("read monitor route: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Incident is one alert of the monitor (internal/monitor) from its first
// sign to its resolution.
type Incident struct {
	ID              int64
	Key             string // what it is about: kind, pool and member
	Kind, Severity  string
	Pool, Member    string
	Cause           string
	State           string // pending, firing, recovering, resolved
	Since           time.Time
	FiredAt         *time.Time
	RecoveringSince *time.Time
	NotifiedAt      *time.Time
	ResolvedAt      *time.Time
	Suppressed      int    // dependent alerts folded into this one
	Muted           string // why its alert was not sent (a maintenance window); "" sent
	UpdatedAt       time.Time
}

const incidentSelect = `SELECT id, key, kind, severity, pool, member, cause, state, since, fired_at, recovering_since, notified_at, resolved_at, suppressed, muted, updated_at FROM incidents `

func scanIncident(row interface{ Scan(...any) error }) (Incident, error) {
	var (
		in                    Incident
		since, upd            int64
		fired, rec, not, resd sql.NullInt64
	)
	err := row.Scan(&in.ID, &in.Key, &in.Kind, &in.Severity, &in.Pool, &in.Member, &in.Cause, &in.State, &since, &fired, &rec, &not, &resd, &in.Suppressed, &in.Muted, &upd)
	in.Since, in.UpdatedAt = fromMs(since), fromMs(upd)
	in.FiredAt, in.RecoveringSince, in.NotifiedAt, in.ResolvedAt = fromNullMs(fired), fromNullMs(rec), fromNullMs(not), fromNullMs(resd)
	return in, err
}

// IncidentFilter selects incidents: Open ones only (not resolved), or the
// newest Limit of a pool.
type IncidentFilter struct {
	Open  bool
	Pool  string
	Limit int
}

// ListIncidents lists incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error) {
	q, args := incidentSelect+`WHERE 1=1 `, []any{}
	if f.Open {
		q += `AND state <> 'resolved' `
	}
	if f.Pool != "" {
		args = append(args, f.Pool)
		q += fmt.Sprintf(`AND pool = $%d `, len(args))
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 10000
	}
	rows, err := s.db.QueryContext(ctx, q+fmt.Sprintf(`ORDER BY id DESC LIMIT %d`, f.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("read incident: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// MonitorCursor returns the id of the last event the monitor consumed.
func (s *Store) MonitorCursor(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT value FROM monitor_state WHERE name = 'event_cursor'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// LastEventID returns the newest event's id (0 with none).
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(id) FROM events`).Scan(&v)
	return v.Int64, err
}

// MonitorCommit is one step of the monitor, written at once: the event
// cursor, the incidents changed (ID 0: inserted, ID set), the incidents
// dropped (a pending one whose condition cleared) and the messages queued.
type MonitorCommit struct {
	Cursor     int64 // 0: unchanged
	Incidents  []*Incident
	Deleted    []int64
	Deliveries []*NotifyDelivery
}

// CommitMonitor writes c in one transaction, so that an incident's new
// state and the messages it sends are stored together or not at all.
func (s *Store) CommitMonitor(ctx context.Context, c MonitorCommit, now time.Time) error {
	return s.txRetry(ctx, func(tx *sql.Tx) error {
		if c.Cursor > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM monitor_state WHERE name = 'event_cursor'`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_state (name, value) VALUES ('event_cursor', $1)`, c.Cursor); err != nil {
				return fmt.Errorf("write the monitor's cursor: %w", err)
			}
		}
		for _, id := range c.Deleted {
			if _, err := tx.ExecContext(ctx, `DELETE FROM incidents WHERE id = $1`, id); err != nil {
				return fmt.Errorf("delete incident %d: %w", id, err)
			}
		}
		for _, in := range c.Incidents {
			in.UpdatedAt = now.UTC()
			if in.ID == 0 {
				err := tx.QueryRowContext(ctx, `INSERT INTO incidents (key, kind, severity, pool, member, cause, state, since, fired_at, recovering_since, notified_at, resolved_at, suppressed, muted, updated_at)
					VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING id`,
					in.Key, in.Kind, in.Severity, in.Pool, in.Member, in.Cause, in.State, ms(in.Since), msPtr(in.FiredAt), msPtr(in.RecoveringSince),
					msPtr(in.NotifiedAt), msPtr(in.ResolvedAt), in.Suppressed, in.Muted, ms(now)).Scan(&in.ID)
				if err != nil {
					return fmt.Errorf("insert incident %s: %w", in.Key, err)
				}
				continue
			}
			_, err := tx.ExecContext(ctx, `UPDATE incidents SET severity=$1, cause=$2, state=$3, since=$4, fired_at=$5, recovering_since=$6, notified_at=$7, resolved_at=$8, suppressed=$9, muted=$10, updated_at=$11 WHERE id=$12`,
				in.Severity, in.Cause, in.State, ms(in.Since), msPtr(in.FiredAt), msPtr(in.RecoveringSince), msPtr(in.NotifiedAt), msPtr(in.ResolvedAt), in.Suppressed, in.Muted, ms(now), in.ID)
			if err != nil {
				return fmt.Errorf("update incident %d: %w", in.ID, err)
			}
		}
		for _, d := range c.Deliveries {
			if err := insertDelivery(ctx, tx, d, now); err != nil {
				return err
			}
		}
		return nil
	})
}
