package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// AppendEvent stores e and sets its ID and time.
func (s *Store) AppendEvent(ctx context.Context, e *api.Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	var data any
	if len(e.Data) > 0 {
		data = string(e.Data)
	}
	err := s.w.QueryRowContext(ctx, `INSERT INTO events (at, kind, pool, member, message, data) VALUES ($1,$2,$3,$4,$5,$6) RETURNING id`,
		ms(e.Time), e.Kind, e.Pool, e.Member, e.Message, data).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append event %s: %w", e.Kind, err)
	}
	return nil
}

// EventFilter selects events; zero fields do not filter.
type EventFilter struct {
	Pool, Member, Kind string
	Since              time.Time
	After              int64
	Limit              int
	Newest             bool // the newest Limit events (still returned oldest first)
}

// ListEvents returns matching events, oldest first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]api.Event, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Pool != "" {
		add("pool = $%d", f.Pool)
	}
	if f.Member != "" {
		add("member = $%d", f.Member)
	}
	if f.Kind != "" {
		if strings.HasSuffix(f.Kind, ".") || strings.HasSuffix(f.Kind, "*") {
			add("kind LIKE $%d", strings.TrimSuffix(f.Kind, "*")+"%")
		} else {
			add("kind = $%d", f.Kind)
		}
	}
	if !f.Since.IsZero() {
		add("at >= $%d", ms(f.Since))
	}
	if f.After > 0 {
		add("id > $%d", f.After)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	q := `SELECT id, at, kind, pool, member, message, data FROM events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	order := "ASC"
	if f.Newest {
		order = "DESC"
	}
	q += fmt.Sprintf(` ORDER BY id %s LIMIT %d`, order, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []api.Event
	for rows.Next() {
		var (
			e    api.Event
			at   int64
			data *string
		)
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Pool, &e.Member, &e.Message, &data); err != nil {
			return nil, err
		}
		e.Time = fromMs(at)
		if data != nil {
			e.Data = json.RawMessage(*data)
		}
		out = append(out, e)
	}
	if f.Newest {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, rows.Err()
}

// CountEvents counts events of a kind for a pool since a time.
func (s *Store) CountEvents(ctx context.Context, pool, kind string, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE pool = $1 AND kind = $2 AND at >= $3`, pool, kind, ms(since)).Scan(&n)
	return n, err
}
