package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Sample is one point of a member's metric time series.
type Sample struct {
	MemberID   int64
	At         time.Time
	Resolution time.Duration
	CPU, Mem   float64 // percent
	Disk       float64 // percent of the fullest disk
	Load1      float64
	NetRx      int64 // bytes per second
	NetTx      int64
}

// AddSamples stores samples; one that already exists for the same member,
// resolution and time is skipped.
func (s *Store) AddSamples(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		// Members removed since the sample was taken are skipped (a failed
		// insert would abort the whole transaction on PostgreSQL).
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO member_samples (member_id, at, resolution_s, cpu, mem, disk, load1, net_rx, net_tx)
			SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS INTEGER), CAST($4 AS REAL), CAST($5 AS REAL), CAST($6 AS REAL),
				CAST($7 AS REAL), CAST($8 AS BIGINT), CAST($9 AS BIGINT)
			WHERE EXISTS (SELECT 1 FROM members WHERE id = $1) ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("prepare samples: %w", err)
		}
		defer stmt.Close()
		for _, p := range samples {
			if _, err := stmt.ExecContext(ctx, p.MemberID, ms(p.At), int(p.Resolution/time.Second), p.CPU, p.Mem, p.Disk, p.Load1, p.NetRx, p.NetTx); err != nil {
				return fmt.Errorf("store sample of member %d: %w", p.MemberID, err)
			}
		}
		return nil
	})
}

// ListSamples returns a member's samples of one resolution since a time,
// oldest first.
func (s *Store) ListSamples(ctx context.Context, memberID int64, res time.Duration, since time.Time) ([]Sample, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, cpu, mem, disk, load1, net_rx, net_tx FROM member_samples
		WHERE member_id = $1 AND resolution_s = $2 AND at >= $3 ORDER BY at`, memberID, int(res/time.Second), ms(since))
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		p := Sample{MemberID: memberID, Resolution: res}
		var at int64
		if err := rows.Scan(&at, &p.CPU, &p.Mem, &p.Disk, &p.Load1, &p.NetRx, &p.NetTx); err != nil {
			return nil, err
		}
		p.At = fromMs(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// PruneSamples deletes samples of a resolution older than before.
func (s *Store) PruneSamples(ctx context.Context, res time.Duration, before time.Time) (int64, error) {
	r, err := s.w.ExecContext(ctx, `DELETE FROM member_samples WHERE resolution_s = $1 AND at < $2`, int(res/time.Second), ms(before))
	if err != nil {
		return 0, fmt.Errorf("prune samples: %w", err)
	}
	return r.RowsAffected()
}
