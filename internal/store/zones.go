package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Zone is a zone row. Name has no trailing dot.
type Zone struct {
	ID          int64
	Name        string
	Serial      uint32
	RecordCount int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Record is a record row. Name is an absolute FQDN with a trailing dot.
type Record struct {
	ID      int64
	ZoneID  int64
	Name    string
	Type    string
	TTL     uint32
	Value   string
	Managed string
}

// ZoneChange is one journal entry: the records removed and added between
// two serials, as JSON text owned by the zone service.
type ZoneChange struct {
	From, To       uint32
	At             time.Time
	Removed, Added string
}

// ZoneEdit is what a zone edit function decides.
type ZoneEdit struct {
	Delete  []int64  // record IDs to delete
	Add     []Record // records to insert
	Serial  uint32   // the zone's new serial
	Journal *ZoneChange
	// DNSSEC, when set, writes the zone's DNSSEC state whole; DropDNSSEC
	// deletes it (the zone is no longer signed).
	DNSSEC     *ZoneDNSSEC
	DropDNSSEC bool
}

// CreateZone inserts a zone with its first records.
func (s *Store) CreateZone(ctx context.Context, z *Zone, recs []Record, now time.Time) error {
	z.CreatedAt, z.UpdatedAt = now.UTC(), now.UTC()
	return s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO zones (name, serial, created_at, updated_at) VALUES ($1,$2,$3,$4) RETURNING id`,
			z.Name, int64(z.Serial), ms(now), ms(now)).Scan(&z.ID)
		if err != nil {
			return classify(err, fmt.Sprintf("zone %q", z.Name))
		}
		return insertRecords(ctx, tx, z.ID, recs, now)
	})
}

func insertRecords(ctx context.Context, tx *sql.Tx, zoneID int64, recs []Record, now time.Time) error {
	for i := range recs {
		r := &recs[i]
		r.ZoneID = zoneID
		err := tx.QueryRowContext(ctx, `INSERT INTO records (zone_id, name, type, ttl, value, managed, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id`,
			zoneID, r.Name, r.Type, int64(r.TTL), r.Value, r.Managed, ms(now)).Scan(&r.ID)
		if err != nil {
			return fmt.Errorf("insert record %s %s: %w", r.Name, r.Type, err)
		}
	}
	return nil
}

const zoneCols = `z.id, z.name, z.serial, z.created_at, z.updated_at, (SELECT COUNT(*) FROM records r WHERE r.zone_id = z.id)`

func scanZone(row interface{ Scan(...any) error }) (Zone, error) {
	var (
		z            Zone
		serial       int64
		created, upd int64
	)
	err := row.Scan(&z.ID, &z.Name, &serial, &created, &upd, &z.RecordCount)
	z.Serial = uint32(serial)
	z.CreatedAt, z.UpdatedAt = fromMs(created), fromMs(upd)
	return z, err
}

// GetZone returns a zone by name (no trailing dot).
func (s *Store) GetZone(ctx context.Context, name string) (Zone, error) {
	z, err := scanZone(s.db.QueryRowContext(ctx, `SELECT `+zoneCols+` FROM zones z WHERE z.name = $1`, name))
	return z, classify(err, fmt.Sprintf("zone %q", name))
}

// ListZones returns every zone by name.
func (s *Store) ListZones(ctx context.Context) ([]Zone, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+zoneCols+` FROM zones z ORDER BY z.name`)
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	defer rows.Close()
	var out []Zone
	for rows.Next() {
		z, err := scanZone(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, rows.Err()
}

// DeleteZone deletes a zone, its records and journal.
func (s *Store) DeleteZone(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM zones WHERE id = $1`, id)
	return mustAffect(res, err, fmt.Sprintf("zone %d", id))
}

// ZoneRecords returns a zone's records ordered by name, type and ID.
func (s *Store) ZoneRecords(ctx context.Context, zoneID int64) ([]Record, error) {
	return zoneRecords(ctx, s.db, zoneID)
}

func zoneRecords(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, zoneID int64) ([]Record, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, zone_id, name, type, ttl, value, managed FROM records WHERE zone_id = $1 ORDER BY name, type, id`, zoneID)
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			r   Record
			ttl int64
		)
		if err := rows.Scan(&r.ID, &r.ZoneID, &r.Name, &r.Type, &ttl, &r.Value, &r.Managed); err != nil {
			return nil, err
		}
		r.TTL = uint32(ttl)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EditZone runs fn over the current zone and records inside one
// transaction that holds the zone locked, then applies its edit: deletes,
// inserts, the new serial and a journal entry (the journal keeps the newest
// journalKeep entries). Nothing is written when fn fails.
func (s *Store) EditZone(ctx context.Context, name string, now time.Time, fn func(z Zone, recs []Record) (ZoneEdit, error)) (Zone, error) {
	var out Zone
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT ` + zoneCols + ` FROM zones z WHERE z.name = $1`
		if s.dialect == Postgres {
			q = `SELECT z.id, z.name, z.serial, z.created_at, z.updated_at, 0 FROM zones z WHERE z.name = $1 FOR UPDATE`
		}
		z, err := scanZone(tx.QueryRowContext(ctx, q, name))
		if err != nil {
			return classify(err, fmt.Sprintf("zone %q", name))
		}
		recs, err := zoneRecords(ctx, tx, z.ID)
		if err != nil {
			return err
		}
		edit, err := fn(z, recs)
		if err != nil {
			return err
		}
		for _, id := range edit.Delete {
			if _, err := tx.ExecContext(ctx, `DELETE FROM records WHERE id = $1 AND zone_id = $2`, id, z.ID); err != nil {
				return fmt.Errorf("delete record %d: %w", id, err)
			}
		}
		if err := insertRecords(ctx, tx, z.ID, edit.Add, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE zones SET serial = $1, updated_at = $2 WHERE id = $3`, int64(edit.Serial), ms(now), z.ID); err != nil {
			return fmt.Errorf("update serial: %w", err)
		}
		if edit.DropDNSSEC {
			if err := deleteDNSSEC(ctx, tx, z.ID); err != nil {
				return err
			}
		}
		if d := edit.DNSSEC; d != nil {
			d.ZoneID = z.ID
			if err := writeDNSSEC(ctx, tx, *d, now); err != nil {
				return err
			}
		}
		if j := edit.Journal; j != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO zone_changes (zone_id, serial_from, serial_to, at, removed, added) VALUES ($1,$2,$3,$4,$5,$6)`,
				z.ID, int64(j.From), int64(j.To), ms(now), j.Removed, j.Added); err != nil {
				return fmt.Errorf("journal change: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM zone_changes WHERE zone_id = $1 AND id <= (SELECT id FROM zone_changes WHERE zone_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
				z.ID, journalKeep); err != nil {
				return fmt.Errorf("trim journal: %w", err)
			}
		}
		out = z
		out.Serial = edit.Serial
		out.RecordCount = len(recs) - len(edit.Delete) + len(edit.Add)
		out.UpdatedAt = now.UTC()
		return nil
	})
	return out, err
}

const journalKeep = 200

// ZoneJournal returns a zone's recent changes, oldest first.
func (s *Store) ZoneJournal(ctx context.Context, zoneID int64) ([]ZoneChange, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT serial_from, serial_to, at, removed, added FROM zone_changes WHERE zone_id = $1 ORDER BY id`, zoneID)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer rows.Close()
	var out []ZoneChange
	for rows.Next() {
		var (
			c        ZoneChange
			from, to int64
			at       int64
		)
		if err := rows.Scan(&from, &to, &at, &c.Removed, &c.Added); err != nil {
			return nil, err
		}
		c.From, c.To, c.At = uint32(from), uint32(to), fromMs(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
