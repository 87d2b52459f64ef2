package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

// ErrFenced is returned (wrapped in apperr.Conflict) when a fenced write
// carries an epoch that is no longer the lease's: another replica took over.
var ErrFenced = apperr.New(apperr.Conflict, "lease lost: another server replica holds it now")

// AcquireLease takes or renews the named lease for holder until now+ttl.
// It returns the lease's epoch while holder has it, or 0 when another
// holder's lease is still valid. Each change of holder increments the epoch,
// which fenced writes check (see SetActiveMember).
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (int64, error) {
	var epoch int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var (
			cur    string
			e, exp int64
		)
		err := tx.QueryRowContext(ctx, `SELECT holder, epoch, expires_at FROM leases WHERE name = $1`, name).Scan(&cur, &e, &exp)
		switch {
		case err == sql.ErrNoRows:
			epoch = 1
			_, err = tx.ExecContext(ctx, `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1,$2,$3,$4)`, name, holder, epoch, ms(now.Add(ttl)))
			return classify(err, "lease "+name)
		case err != nil:
			return fmt.Errorf("read lease %s: %w", name, err)
		case cur == holder:
			epoch = e
		case exp > ms(now):
			epoch = 0
			return nil
		default:
			epoch = e + 1
		}
		_, err = tx.ExecContext(ctx, `UPDATE leases SET holder=$1, epoch=$2, expires_at=$3 WHERE name=$4`, holder, epoch, ms(now.Add(ttl)), name)
		return err
	})
	return epoch, err
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.w.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

// checkEpoch refuses a fenced write whose epoch is stale. An empty lease
// name means the write is not fenced.
func checkEpoch(ctx context.Context, tx *sql.Tx, lease string, epoch int64) error {
	if lease == "" {
		return nil
	}
	var cur int64
	err := tx.QueryRowContext(ctx, `SELECT epoch FROM leases WHERE name = $1`, lease).Scan(&cur)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("check lease %s: %w", lease, err)
	}
	if cur != epoch {
		return ErrFenced
	}
	return nil
}
