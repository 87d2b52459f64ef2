package store

import (
	"context"
	"fmt"
)

// EachZoneRecords reads the records and journal of the zones whose IDs are
// in [from, to] in two scans (at start-up: one query per zone costs more
// than the reading) and calls fn once per zone that has records, in zone
// ID order. recs and journal are the zone's own (fn may keep them).
// Several ranges can be read at once.
func (s *Store) EachZoneRecords(ctx context.Context, from, to int64, fn func(zoneID int64, recs []Record, journal []ZoneChange) error) error {
	journals, err := s.journalsIn(ctx, from, to)
	if err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, zone_id, name, type, ttl, value, managed FROM records WHERE zone_id BETWEEN $1 AND $2 ORDER BY zone_id, name, type, id`, from, to)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var (
		cur  int64 = -1
		recs []Record
	)
	flush := func() error {
		if cur < 0 {
			return nil
		}
		return fn(cur, recs, journals[cur])
	}
	for rows.Next() {
		var (
			r   Record
			ttl int64
		)
		if err := rows.Scan(&r.ID, &r.ZoneID, &r.Name, &r.Type, &ttl, &r.Value, &r.Managed); err != nil {
			return err
		}
		r.TTL = uint32(ttl)
		if r.ZoneID != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, recs = r.ZoneID, nil
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return flush()
}

// journalsIn is the journal of each zone whose ID is in [from, to], oldest
// change first.
func (s *Store) journalsIn(ctx context.Context, from, to int64) (map[int64][]ZoneChange, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT zone_id, serial_from, serial_to, at, removed, added FROM zone_changes WHERE zone_id BETWEEN $1 AND $2 ORDER BY zone_id, id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read journals: %w", err)
	}
	defer rows.Close()
	out := map[int64][]ZoneChange{}
	for rows.Next() {
		var (
			c            ZoneChange
			id, from, to int64
			at           int64
		)
		if err := rows.Scan(&id, &from, &to, &at, &c.Removed, &c.Added); err != nil {
			return nil, err
		}
		c.From, c.To, c.At = uint32(from), uint32(to), fromMs(at)
		out[id] = append(out[id], c)
	}
	return out, rows.Err()
}
