package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

// DNSSEC origins.
const (
	DNSSECLocal   = "local"   // signed here: this server runs its rollovers
	DNSSECReplica = "replica" // keys sent by a DNS cluster member
)

// ZoneDNSSEC is the DNSSEC state of a signed zone.
type ZoneDNSSEC struct {
	ZoneID    int64
	Origin    string
	Rollover  *DNSSECRollover // nil when none runs
	Keys      []DNSSECKey
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DNSSECRollover is a key rollover in progress.
type DNSSECRollover struct {
	Role      string
	Step      string
	OldTag    uint16
	NewTag    uint16
	StartedAt time.Time
	NextAt    time.Time
	// FixedWait, when positive, replaces every wait of the rollover.
	FixedWait time.Duration
}

// DNSSECKey is one key of a zone; its private part is sealed by the
// caller with the master key.
type DNSSECKey struct {
	ID            int64
	Role          string
	Tag           uint16
	DNSKEY        string
	PrivateSealed string
	Publish       bool
	Sign          bool
	DS            bool
	CreatedAt     time.Time
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// ZoneDNSSEC returns the DNSSEC state of a zone; NotFound when unsigned.
func (s *Store) ZoneDNSSEC(ctx context.Context, zoneID int64) (ZoneDNSSEC, error) {
	return zoneDNSSEC(ctx, s.db, zoneID)
}

func zoneDNSSEC(ctx context.Context, q querier, zoneID int64) (ZoneDNSSEC, error) {
	var (
		d                       = ZoneDNSSEC{ZoneID: zoneID}
		role, step              string
		oldTag, newTag          int64
		started, next           sql.NullInt64
		fixed, created, updated int64
	)
	err := q.QueryRowContext(ctx, `SELECT origin, rollover_role, rollover_step, rollover_old_tag, rollover_new_tag, rollover_started_at, rollover_next_at, fixed_wait_ms, created_at, updated_at
		FROM dnssec_zones WHERE zone_id = $1`, zoneID).Scan(&d.Origin, &role, &step, &oldTag, &newTag, &started, &next, &fixed, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return d, apperr.New(apperr.NotFound, "the zone is not signed")
	}
	if err != nil {
		return d, fmt.Errorf("read DNSSEC state: %w", err)
	}
	d.CreatedAt, d.UpdatedAt = fromMs(created), fromMs(updated)
	if role != "" {
		d.Rollover = &DNSSECRollover{Role: role, Step: step, OldTag: uint16(oldTag), NewTag: uint16(newTag),
			FixedWait: time.Duration(fixed) * time.Millisecond}
		if started.Valid {
			d.Rollover.StartedAt = fromMs(started.Int64)
		}
		if next.Valid {
			d.Rollover.NextAt = fromMs(next.Int64)
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT id, role, tag, dnskey, private_sealed, publish, sign, ds, created_at FROM dnssec_keys WHERE zone_id = $1 ORDER BY id`, zoneID)
	if err != nil {
		return d, fmt.Errorf("read DNSSEC keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k   DNSSECKey
			tag int64
			at  int64
		)
		if err := rows.Scan(&k.ID, &k.Role, &tag, &k.DNSKEY, &k.PrivateSealed, &k.Publish, &k.Sign, &k.DS, &at); err != nil {
			return d, fmt.Errorf("read DNSSEC key: %w", err)
		}
		k.Tag, k.CreatedAt = uint16(tag), fromMs(at)
		d.Keys = append(d.Keys, k)
	}
	return d, rows.Err()
}

// SignedZoneIDs lists the zones that are signed.
func (s *Store) SignedZoneIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT zone_id FROM dnssec_zones ORDER BY zone_id`)
	if err != nil {
		return nil, fmt.Errorf("list signed zones: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// SaveZoneDNSSEC writes a zone's DNSSEC state whole (its keys replaced).
func (s *Store) SaveZoneDNSSEC(ctx context.Context, d ZoneDNSSEC, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return writeDNSSEC(ctx, tx, d, now) })
}

func writeDNSSEC(ctx context.Context, tx *sql.Tx, d ZoneDNSSEC, now time.Time) error {
	var (
		role, step     string
		oldTag, newTag int64
		started, next  any
		fixed          int64
	)
	if r := d.Rollover; r != nil {
		role, step, oldTag, newTag = r.Role, r.Step, int64(r.OldTag), int64(r.NewTag)
		started, next, fixed = ms(r.StartedAt), ms(r.NextAt), r.FixedWait.Milliseconds()
	}
	if d.Origin == "" {
		d.Origin = DNSSECLocal
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO dnssec_zones (zone_id, origin, rollover_role, rollover_step, rollover_old_tag, rollover_new_tag, rollover_started_at, rollover_next_at, fixed_wait_ms, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10)
		ON CONFLICT (zone_id) DO UPDATE SET origin = excluded.origin, rollover_role = excluded.rollover_role, rollover_step = excluded.rollover_step,
			rollover_old_tag = excluded.rollover_old_tag, rollover_new_tag = excluded.rollover_new_tag, rollover_started_at = excluded.rollover_started_at,
			rollover_next_at = excluded.rollover_next_at, fixed_wait_ms = excluded.fixed_wait_ms, updated_at = excluded.updated_at`,
		d.ZoneID, d.Origin, role, step, oldTag, newTag, started, next, fixed, ms(now))
	if err != nil {
		return fmt.Errorf("save DNSSEC state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM dnssec_keys WHERE zone_id = $1`, d.ZoneID); err != nil {
		return fmt.Errorf("replace DNSSEC keys: %w", err)
	}
	for _, k := range d.Keys {
		created := k.CreatedAt
		if created.IsZero() {
			created = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO dnssec_keys (zone_id, role, tag, dnskey, private_sealed, publish, sign, ds, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
			d.ZoneID, k.Role, int64(k.Tag), k.DNSKEY, k.PrivateSealed, k.Publish, k.Sign, k.DS, ms(created)); err != nil {
			return classify(err, fmt.Sprintf("DNSSEC key %d", k.Tag))
		}
	}
	return nil
}

func deleteDNSSEC(ctx context.Context, tx *sql.Tx, zoneID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM dnssec_keys WHERE zone_id = $1`, zoneID); err != nil {
		return fmt.Errorf("delete DNSSEC keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM dnssec_zones WHERE zone_id = $1`, zoneID); err != nil {
		return fmt.Errorf("delete DNSSEC state: %w", err)
	}
	return nil
}

// DeleteZoneDNSSEC deletes a zone's DNSSEC state and keys (its serial stays).
func (s *Store) DeleteZoneDNSSEC(ctx context.Context, zoneID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return deleteDNSSEC(ctx, tx, zoneID) })
}
