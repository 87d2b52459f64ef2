package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ClusterAgreement is what a member and this server last agreed on for a
// zone: its serial, and whether this server yielded the zone there to
// another writer.
type ClusterAgreement struct {
	Serial  uint32
	Yielded bool
}

// ClusterAgreements returns, per zone, what a member and this server last
// agreed on.
func (s *Store) ClusterAgreements(ctx context.Context, memberID int64) (map[string]ClusterAgreement, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT zone, serial, yielded FROM dns_cluster_pushed WHERE member_id = $1`, memberID)
	if err != nil {
		return nil, fmt.Errorf("list agreed zones: %w", err)
	}
	defer rows.Close()
	out := map[string]ClusterAgreement{}
	for rows.Next() {
		var (
			z string
			a ClusterAgreement
			n int64
		)
		if err := rows.Scan(&z, &n, &a.Yielded); err != nil {
			return nil, err
		}
		a.Serial = uint32(n)
		out[z] = a
	}
	return out, rows.Err()
}

// SetClusterYielded records that this server writes zone to a member no
// more (another server's version was chosen there), or again.
func (s *Store) SetClusterYielded(ctx context.Context, memberID int64, zone string, serial uint32, yielded bool) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO dns_cluster_pushed (member_id, zone, serial, yielded) VALUES ($1,$2,$3,$4)
		ON CONFLICT (member_id, zone) DO UPDATE SET serial = excluded.serial, yielded = excluded.yielded`, memberID, zone, int64(serial), yielded)
	if err != nil {
		return fmt.Errorf("record yielded zone %s: %w", zone, err)
	}
	return nil
}

// ClusterConflict is a zone two sides of the cluster changed, with both
// versions kept until an operator chooses one.
type ClusterConflict struct {
	ID           int64
	MemberID     int64
	Host         string // the member's host (read only)
	Zone         string
	Kind         string
	Message      string
	LocalSerial  uint32
	RemoteSerial uint32
	LocalText    string
	RemoteText   string
	DetectedAt   time.Time
	ResolvedAt   *time.Time
	Resolution   string
}

const clusterConflictCols = `c.id, c.member_id, m.host, c.zone, c.kind, c.message, c.local_serial, c.remote_serial, c.local_text, c.remote_text, c.detected_at, c.resolved_at, c.resolution`

func scanClusterConflict(row interface{ Scan(...any) error }) (ClusterConflict, error) {
	var (
		c        ClusterConflict
		ls, rs   int64
		detected int64
		resolved sql.NullInt64
	)
	err := row.Scan(&c.ID, &c.MemberID, &c.Host, &c.Zone, &c.Kind, &c.Message, &ls, &rs, &c.LocalText, &c.RemoteText, &detected, &resolved, &c.Resolution)
	c.LocalSerial, c.RemoteSerial = uint32(ls), uint32(rs)
	c.DetectedAt, c.ResolvedAt = fromMs(detected), fromNullMs(resolved)
	return c, err
}

// OpenClusterConflict records a conflict, or refreshes the open one of the
// same member and zone with the latest versions (keeping when it was first
// seen). created reports a new one.
func (s *Store) OpenClusterConflict(ctx context.Context, c *ClusterConflict, now time.Time) (created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM dns_cluster_conflicts WHERE member_id = $1 AND zone = $2 AND resolved_at IS NULL`, c.MemberID, c.Zone).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			c.DetectedAt = now.UTC()
			return tx.QueryRowContext(ctx, `INSERT INTO dns_cluster_conflicts (member_id, zone, kind, message, local_serial, remote_serial, local_text, remote_text, detected_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id`, c.MemberID, c.Zone, c.Kind, c.Message, int64(c.LocalSerial), int64(c.RemoteSerial),
				c.LocalText, c.RemoteText, ms(now)).Scan(&c.ID)
		case err != nil:
			return err
		}
		c.ID = id
		_, err = tx.ExecContext(ctx, `UPDATE dns_cluster_conflicts SET kind=$1, message=$2, local_serial=$3, remote_serial=$4, local_text=$5, remote_text=$6 WHERE id=$7`,
			c.Kind, c.Message, int64(c.LocalSerial), int64(c.RemoteSerial), c.LocalText, c.RemoteText, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record DNS cluster conflict on %s: %w", c.Zone, err)
	}
	return created, nil
}

// ListClusterConflicts lists the conflicts, newest first; open limits it to
// those not resolved.
func (s *Store) ListClusterConflicts(ctx context.Context, open bool) ([]ClusterConflict, error) {
	q := `SELECT ` + clusterConflictCols + ` FROM dns_cluster_conflicts c JOIN dns_cluster_members m ON m.id = c.member_id`
	if open {
		q += ` WHERE c.resolved_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY c.id DESC LIMIT 500`)
	if err != nil {
		return nil, fmt.Errorf("list DNS cluster conflicts: %w", err)
	}
	defer rows.Close()
	var out []ClusterConflict
	for rows.Next() {
		c, err := scanClusterConflict(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetClusterConflict returns one conflict.
func (s *Store) GetClusterConflict(ctx context.Context, id int64) (ClusterConflict, error) {
	c, err := scanClusterConflict(s.db.QueryRowContext(ctx, `SELECT `+clusterConflictCols+` FROM dns_cluster_conflicts c JOIN dns_cluster_members m ON m.id = c.member_id WHERE c.id = $1`, id))
	return c, classify(err, fmt.Sprintf("DNS cluster conflict %d", id))
}

// ResolveClusterConflicts closes the open conflicts of a member's zone
// with how they ended; it returns how many it closed.
func (s *Store) ResolveClusterConflicts(ctx context.Context, memberID int64, zone, resolution string, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE dns_cluster_conflicts SET resolved_at = $1, resolution = $2 WHERE member_id = $3 AND zone = $4 AND resolved_at IS NULL`,
		ms(now), resolution, memberID, zone)
	if err != nil {
		return 0, fmt.Errorf("resolve DNS cluster conflict on %s: %w", zone, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ClusterLogEntry is one operation with a member.
type ClusterLogEntry struct {
	ID       int64
	MemberID int64
	At       time.Time
	Op       string // hello, push, delete, fetch, fetch-delete, conflict
	Zone     string
	Serial   uint32
	OK       bool
	Took     time.Duration
	Message  string
}

// AddClusterLog appends an operation to a member's log and keeps its last
// keep entries.
func (s *Store) AddClusterLog(ctx context.Context, e ClusterLogEntry, keep int) error {
	var id int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO dns_cluster_log (member_id, at, op, zone, serial, ok, took_ms, message) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id`,
		e.MemberID, ms(e.At), e.Op, e.Zone, int64(e.Serial), e.OK, e.Took.Milliseconds(), e.Message).Scan(&id)
	if err != nil {
		return fmt.Errorf("log DNS cluster operation: %w", err)
	}
	if id%50 == 0 { // trimmed now and then, not on every write
		_, err = s.w.ExecContext(ctx, `DELETE FROM dns_cluster_log WHERE member_id = $1 AND id <= $2`, e.MemberID, id-int64(keep))
	}
	return err
}

// ClusterLog returns a member's latest operations, newest first.
func (s *Store) ClusterLog(ctx context.Context, memberID int64, limit int) ([]ClusterLogEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, member_id, at, op, zone, serial, ok, took_ms, message FROM dns_cluster_log WHERE member_id = $1 ORDER BY id DESC LIMIT $2`, memberID, limit)
	if err != nil {
		return nil, fmt.Errorf("read DNS cluster log: %w", err)
	}
	defer rows.Close()
	var out []ClusterLogEntry
	for rows.Next() {
		var (
			e          ClusterLogEntry
			at, serial int64
			took       int64
		)
		if err := rows.Scan(&e.ID, &e.MemberID, &at, &e.Op, &e.Zone, &serial, &e.OK, &took, &e.Message); err != nil {
			return nil, err
		}
		e.At, e.Serial, e.Took = fromMs(at), uint32(serial), time.Duration(took)*time.Millisecond
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClaimClusterWriter makes writer the sender that writes zone here, on the
// receiving side of the cluster. A zone another sender writes stays that
// sender's (its name is returned, and nothing changes) unless takeover.
func (s *Store) ClaimClusterWriter(ctx context.Context, zone, writer string, takeover bool, now time.Time) (string, error) {
	cur := writer
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var have string
		err := tx.QueryRowContext(ctx, `SELECT writer FROM dns_cluster_writers WHERE zone = $1`, zone).Scan(&have)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case have != writer && !takeover:
			cur = have
			return nil
		case have == writer:
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO dns_cluster_writers (zone, writer, updated_at) VALUES ($1,$2,$3)
			ON CONFLICT (zone) DO UPDATE SET writer = excluded.writer, updated_at = excluded.updated_at`, zone, writer, ms(now))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("claim zone %s for %s: %w", zone, writer, err)
	}
	return cur, nil
}

// ClusterWriter returns the sender that writes zone here ("" for none).
func (s *Store) ClusterWriter(ctx context.Context, zone string) (string, error) {
	var w string
	err := s.db.QueryRowContext(ctx, `SELECT writer FROM dns_cluster_writers WHERE zone = $1`, zone).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return w, err
}

// DropClusterWriter forgets who writes zone (it was deleted).
func (s *Store) DropClusterWriter(ctx context.Context, zone string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM dns_cluster_writers WHERE zone = $1`, zone)
	return err
}
