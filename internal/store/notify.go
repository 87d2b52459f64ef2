package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

// NotifyChannel is a place alerts are delivered to (internal/notify). Config
// holds no secret; SecretSealed is the channel's secret sealed with the
// master key.
type NotifyChannel struct {
	ID           int64
	Name, Kind   string
	Config       json.RawMessage
	SecretSealed string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const channelSelect = `SELECT id, name, kind, config, secret_sealed, created_at, updated_at FROM notify_channels `

func scanChannel(row interface{ Scan(...any) error }) (NotifyChannel, error) {
	var (
		c          NotifyChannel
		cfg        string
		created, u int64
	)
	err := row.Scan(&c.ID, &c.Name, &c.Kind, &cfg, &c.SecretSealed, &created, &u)
	c.Config, c.CreatedAt, c.UpdatedAt = json.RawMessage(cfg), fromMs(created), fromMs(u)
	return c, err
}

// CreateNotifyChannel stores a channel; a taken name is a Conflict.
func (s *Store) CreateNotifyChannel(ctx context.Context, c *NotifyChannel, now time.Time) error {
	c.CreatedAt, c.UpdatedAt = now.UTC(), now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO notify_channels (name, kind, config, secret_sealed, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$5) RETURNING id`,
		c.Name, c.Kind, string(c.Config), c.SecretSealed, ms(now)).Scan(&c.ID)
	return classify(err, "notification channel "+c.Name)
}

// ListNotifyChannels lists the channels by name.
func (s *Store) ListNotifyChannels(ctx context.Context) ([]NotifyChannel, error) {
	rows, err := s.db.QueryContext(ctx, channelSelect+`ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list notification channels: %w", err)
	}
	defer rows.Close()
	var out []NotifyChannel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("read notification channel: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetNotifyChannel returns a channel by name.
func (s *Store) GetNotifyChannel(ctx context.Context, name string) (NotifyChannel, error) {
	c, err := scanChannel(s.db.QueryRowContext(ctx, channelSelect+`WHERE name = $1`, name))
	return c, classify(err, "notification channel "+name)
}

// GetNotifyChannelByID returns a channel by id.
func (s *Store) GetNotifyChannelByID(ctx context.Context, id int64) (NotifyChannel, error) {
	c, err := scanChannel(s.db.QueryRowContext(ctx, channelSelect+`WHERE id = $1`, id))
	return c, classify(err, fmt.Sprintf("notification channel %d", id))
}

// DeleteNotifyChannel removes a channel with its deliveries and routes.
func (s *Store) DeleteNotifyChannel(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM notify_channels WHERE name = $1`, name)
	return mustAffect(res, err, "notification channel "+name)
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliverySending   = "sending"   // claimed by a worker until lease_until
	DeliveryDelivered = "delivered" // the channel accepted it
	DeliveryFailed    = "failed"    // no attempt left, or refused for good
)

// NotifyDelivery is one message queued for one channel.
type NotifyDelivery struct {
	ID          int64
	ChannelID   int64
	Channel     string // the channel's name (read only)
	Kind        string // alert, resolved, reminder, test
	Pool        string
	Subject     string
	Message     json.RawMessage // notify.Message
	Status      string
	Attempts    int
	MaxAttempts int
	NextAt      time.Time
	LeaseHolder string
	LeaseUntil  time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

// NotifyAttempt is one delivery attempt and its outcome.
type NotifyAttempt struct {
	Seq      int
	At       time.Time
	Duration time.Duration
	Outcome  string // delivered, retry, failed
	Error    string
}

const deliverySelect = `SELECT d.id, d.channel_id, c.name, d.kind, d.pool, d.subject, d.message, d.status, d.attempts, d.max_attempts,
	d.next_at, d.lease_holder, d.lease_until, d.last_error, d.created_at, d.updated_at, d.finished_at
	FROM notify_deliveries d JOIN notify_channels c ON c.id = d.channel_id `

func scanDelivery(row interface{ Scan(...any) error }) (NotifyDelivery, error) {
	var (
		d                         NotifyDelivery
		msg                       string
		next, lease, created, upd int64
		finished                  sql.NullInt64
	)
	err := row.Scan(&d.ID, &d.ChannelID, &d.Channel, &d.Kind, &d.Pool, &d.Subject, &msg, &d.Status, &d.Attempts, &d.MaxAttempts,
		&next, &d.LeaseHolder, &lease, &d.LastError, &created, &upd, &finished)
	d.Message = json.RawMessage(msg)
	d.NextAt, d.LeaseUntil, d.CreatedAt, d.UpdatedAt, d.FinishedAt = fromMs(next), fromMs(lease), fromMs(created), fromMs(upd), fromNullMs(finished)
	return d, err
}

type execer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func insertDelivery(ctx context.Context, x execer, d *NotifyDelivery, now time.Time) error {
	d.Status, d.CreatedAt, d.UpdatedAt = DeliveryPending, now.UTC(), now.UTC()
	if d.NextAt.IsZero() {
		d.NextAt = now.UTC()
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 1
	}
	err := x.QueryRowContext(ctx, `INSERT INTO notify_deliveries (channel_id, kind, pool, subject, message, status, max_attempts, next_at, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9) RETURNING id`,
		d.ChannelID, d.Kind, d.Pool, d.Subject, string(d.Message), d.Status, d.MaxAttempts, ms(d.NextAt), ms(now)).Scan(&d.ID)
	return classify(err, "notification delivery")
}

// EnqueueDeliveries queues messages, all or none.
func (s *Store) EnqueueDeliveries(ctx context.Context, ds []*NotifyDelivery, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if err := insertDelivery(ctx, tx, d, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimDeliveries leases up to limit due deliveries to holder until
// now+lease: pending ones whose next attempt is due, and claimed ones whose
// lease ran out (their worker died). Each row goes to one claimant.
func (s *Store) ClaimDeliveries(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]NotifyDelivery, error) {
	var out []NotifyDelivery
	err := s.txRetry(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id FROM notify_deliveries
			WHERE (status = 'pending' AND next_at <= $1) OR (status = 'sending' AND lease_until <= $1)
			ORDER BY next_at, id LIMIT $2`, ms(now), limit)
		if err != nil {
			return fmt.Errorf("read due deliveries: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET status = 'sending', lease_holder = $1, lease_until = $2, updated_at = $3
				WHERE id = $4 AND ((status = 'pending' AND next_at <= $3) OR (status = 'sending' AND lease_until <= $3))`,
				holder, ms(now.Add(lease)), ms(now), id)
			if err != nil {
				return fmt.Errorf("claim delivery %d: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // taken by another replica meanwhile
			}
			d, err := scanDelivery(tx.QueryRowContext(ctx, deliverySelect+`WHERE d.id = $1`, id))
			if err != nil {
				return fmt.Errorf("read delivery %d: %w", id, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// ErrLeaseLost is returned when a worker records an attempt on a delivery
// whose lease it no longer holds.
var ErrLeaseLost = apperr.New(apperr.Conflict, "the delivery's lease was lost to another worker")

// RecordAttempt records an attempt by holder and sets the delivery's next
// state: delivered, failed, or pending again at nextAt.
func (s *Store) RecordAttempt(ctx context.Context, id int64, holder string, a NotifyAttempt, status string, nextAt time.Time) error {
	return s.txRetry(ctx, func(tx *sql.Tx) error {
		var (
			attempts int
			cur, h   string
		)
		err := tx.QueryRowContext(ctx, `SELECT attempts, status, lease_holder FROM notify_deliveries WHERE id = $1`, id).Scan(&attempts, &cur, &h)
		if err != nil {
			return classify(err, fmt.Sprintf("delivery %d", id))
		}
		if cur != DeliverySending || h != holder {
			return ErrLeaseLost
		}
		seq := attempts + 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_attempts (delivery_id, seq, at, duration_ms, outcome, error) VALUES ($1,$2,$3,$4,$5,$6)`,
			id, seq, ms(a.At), a.Duration.Milliseconds(), a.Outcome, a.Error); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		var finished any
		if status == DeliveryDelivered || status == DeliveryFailed {
			finished = ms(a.At)
		}
		_, err = tx.ExecContext(ctx, `UPDATE notify_deliveries SET attempts = $1, status = $2, next_at = $3, lease_holder = '', lease_until = 0,
			last_error = $4, updated_at = $5, finished_at = $6 WHERE id = $7`, seq, status, ms(nextAt), a.Error, ms(a.At), finished, id)
		return err
	})
}

// DeliveryFilter selects deliveries; zero fields do not filter.
type DeliveryFilter struct {
	Channel, Pool, Status string
	Limit                 int // newest first; at most 1000
}

// ListDeliveries lists deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]NotifyDelivery, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Channel != "" {
		add("c.name = $%d", f.Channel)
	}
	if f.Pool != "" {
		add("d.pool = $%d", f.Pool)
	}
	if f.Status != "" {
		add("d.status = $%d", f.Status)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	q := deliverySelect
	if len(where) > 0 {
		q += `WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY d.id DESC LIMIT %d`, f.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []NotifyDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("read delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// GetDelivery returns a delivery by id.
func (s *Store) GetDelivery(ctx context.Context, id int64) (NotifyDelivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, deliverySelect+`WHERE d.id = $1`, id))
	return d, classify(err, fmt.Sprintf("delivery %d", id))
}

// DeliveryAttempts lists a delivery's attempts, oldest first.
func (s *Store) DeliveryAttempts(ctx context.Context, id int64) ([]NotifyAttempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, duration_ms, outcome, error FROM notify_attempts WHERE delivery_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	var out []NotifyAttempt
	for rows.Next() {
		var (
			a      NotifyAttempt
			at, du int64
		)
		if err := rows.Scan(&a.Seq, &at, &du, &a.Outcome, &a.Error); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromMs(at), time.Duration(du)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// NextDeliveryDue returns when the next delivery falls due (a pending one's
// next attempt or a claimed one's lease end); ok is false when none waits.
func (s *Store) NextDeliveryDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(CASE WHEN status = 'pending' THEN next_at ELSE lease_until END) FROM notify_deliveries WHERE status IN ('pending','sending')`).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, fmt.Errorf("next delivery: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return fromMs(v.Int64), true, nil
}

// DeliveryCounts counts deliveries by status.
func (s *Store) DeliveryCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM notify_deliveries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// ClaimDelivery leases one pending delivery to holder, whether due or not
// (a test message sent at once).
func (s *Store) ClaimDelivery(ctx context.Context, id int64, holder string, now time.Time, lease time.Duration) (NotifyDelivery, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE notify_deliveries SET status = 'sending', lease_holder = $1, lease_until = $2, updated_at = $3
		WHERE id = $4 AND status = 'pending'`, holder, ms(now.Add(lease)), ms(now), id)
	if err := mustAffect(res, err, fmt.Sprintf("pending delivery %d", id)); err != nil {
		return NotifyDelivery{}, err
	}
	return s.GetDelivery(ctx, id)
}
