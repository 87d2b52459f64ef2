package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Credential is the rotation state of a member's agent credential; the
// current one is Member.TokenHash. Only hashes are kept.
type Credential struct {
	// IssuedAt dates the current credential; automatic rotation counts
	// from it. Nil for a member never enrolled.
	IssuedAt *time.Time
	// NextHash is a credential handed to the agent in a heartbeat reply and
	// not used yet; NextAt is when it was issued.
	NextHash string
	NextAt   *time.Time
	// PrevHash is the credential a rotation replaced, still accepted until
	// PrevUntil so that requests already under way are not refused.
	PrevHash  string
	PrevUntil *time.Time
	// RotateRequested asks for a rotation at the agent's next heartbeat.
	RotateRequested bool
}

// Why a credential stopped working (removed_agents.reason).
const (
	ReasonRemoved    = "removed"    // its member was removed: the agent must stop
	ReasonReenrolled = "reenrolled" // its member enrolled again: the agent must stop
	ReasonRotated    = "rotated"    // replaced by a rotation, overlap over
	ReasonRevoked    = "revoked"    // revoked by an operator
)

// RetiredAgent is a credential that no longer works.
type RetiredAgent struct {
	Pool, Member, Reason string
	At                   time.Time
}

// RemovedAgent reports whether hash is a credential that stopped working,
// and why.
func (s *Store) RemovedAgent(ctx context.Context, hash string) (RetiredAgent, bool, error) {
	var (
		r  RetiredAgent
		at int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT pool, member, reason, removed_at FROM removed_agents WHERE token_hash = $1`, hash).
		Scan(&r.Pool, &r.Member, &r.Reason, &at)
	if err == sql.ErrNoRows {
		return RetiredAgent{}, false, nil
	}
	if err != nil {
		return RetiredAgent{}, false, fmt.Errorf("look up retired agent credential: %w", err)
	}
	r.At = fromMs(at)
	return r, true, nil
}

// retire remembers hash as a credential of member id that stopped working
// for reason. A hash retired before keeps its first reason.
func retire(ctx context.Context, tx *sql.Tx, id int64, hash, reason string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO removed_agents (token_hash, pool, member, removed_at, reason)
		SELECT $1, p.name, m.name, $2, $3 FROM members m JOIN pools p ON p.id = m.pool_id WHERE m.id = $4
		ON CONFLICT (token_hash) DO NOTHING`, hash, ms(now), reason, id)
	if err != nil {
		return fmt.Errorf("retire agent credential: %w", err)
	}
	return nil
}

// retireCredentials retires every credential of member id (current, next,
// previous) for reason and clears them from the member.
func retireCredentials(ctx context.Context, tx *sql.Tx, id int64, reason string, now time.Time) error {
	var cur, next, prev sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT agent_token_hash, agent_token_next_hash, agent_token_prev_hash FROM members WHERE id = $1`, id).
		Scan(&cur, &next, &prev)
	if err != nil {
		return classify(err, fmt.Sprintf("member %d", id))
	}
	for _, h := range []sql.NullString{cur, next, prev} {
		if h.Valid && h.String != "" {
			if err := retire(ctx, tx, id, h.String, reason, now); err != nil {
				return err
			}
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE members SET agent_token_hash=NULL, agent_token_next_hash=NULL, agent_token_next_at=NULL,
		agent_token_prev_hash=NULL, agent_token_prev_until=NULL, rotate_requested=FALSE WHERE id=$1`, id)
	if err != nil {
		return fmt.Errorf("clear agent credentials: %w", err)
	}
	return nil
}

// IssueNextCredential records nextHash as the credential that replaces
// current for member id. It does nothing and returns false when current is
// no longer the member's credential, or when another next credential was
// issued after notBefore (by another server replica, whose agent may hold
// it by now).
func (s *Store) IssueNextCredential(ctx context.Context, id int64, current, nextHash string, notBefore, now time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE members SET agent_token_next_hash=$1, agent_token_next_at=$2
		WHERE id=$3 AND agent_token_hash=$4 AND (agent_token_next_at IS NULL OR agent_token_next_at < $5)`,
		nextHash, ms(now), id, current, ms(notBefore))
	if err != nil {
		return false, classify(err, "next agent credential")
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PromoteCredential makes the next credential nextHash of member id its
// current one, on its first use: the replaced credential stays valid until
// overlapUntil. A previous credential still in its overlap is retired. It
// returns false when nextHash is not the member's next credential (promoted
// already, or replaced).
func (s *Store) PromoteCredential(ctx context.Context, id int64, nextHash string, overlapUntil, now time.Time) (bool, error) {
	var promoted bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var prev sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT agent_token_prev_hash FROM members WHERE id=$1 AND agent_token_next_hash=$2`, id, nextHash).Scan(&prev)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read agent credential: %w", err)
		}
		if prev.Valid && prev.String != "" {
			if err := retire(ctx, tx, id, prev.String, ReasonRotated, now); err != nil {
				return err
			}
		}
		// The right-hand sides read the row as it was: the current
		// credential becomes the previous one.
		_, err = tx.ExecContext(ctx, `UPDATE members SET agent_token_prev_hash=agent_token_hash, agent_token_prev_until=$1,
			agent_token_hash=agent_token_next_hash, agent_token_next_hash=NULL, agent_token_next_at=NULL,
			credential_issued_at=$2, rotate_requested=FALSE, updated_at=$2 WHERE id=$3`, ms(overlapUntil), ms(now), id)
		if err != nil {
			return classify(err, "agent credential")
		}
		promoted = true
		return nil
	})
	return promoted, err
}

// RetireExpiredCredentials retires the previous credentials whose overlap
// ended before now and returns how many.
func (s *Store) RetireExpiredCredentials(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, agent_token_prev_hash FROM members
			WHERE agent_token_prev_hash IS NOT NULL AND agent_token_prev_until < $1`, ms(now))
		if err != nil {
			return fmt.Errorf("find expired agent credentials: %w", err)
		}
		type expired struct {
			id   int64
			hash string
		}
		var list []expired
		for rows.Next() {
			var e expired
			if err := rows.Scan(&e.id, &e.hash); err != nil {
				rows.Close()
				return err
			}
			list = append(list, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range list {
			if err := retire(ctx, tx, e.id, e.hash, ReasonRotated, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE members SET agent_token_prev_hash=NULL, agent_token_prev_until=NULL
				WHERE id=$1 AND agent_token_prev_hash=$2`, e.id, e.hash); err != nil {
				return fmt.Errorf("clear expired agent credential: %w", err)
			}
		}
		n = len(list)
		return nil
	})
	return n, err
}

// RequestRotation asks for the credentials of the enrolled members of pool
// poolID to be rotated at their agents' next heartbeats: one member, or all
// of them when name is "". It returns the names of the members concerned.
func (s *Store) RequestRotation(ctx context.Context, poolID int64, name string, now time.Time) ([]string, error) {
	q := `UPDATE members SET rotate_requested=TRUE, updated_at=$1 WHERE pool_id=$2 AND agent_token_hash IS NOT NULL`
	args := []any{ms(now), poolID}
	if name != "" {
		q += ` AND name=$3`
		args = append(args, name)
	}
	var names []string
	err := s.txRetry(ctx, func(tx *sql.Tx) error {
		names = names[:0]
		rows, err := tx.QueryContext(ctx, q+` RETURNING name`, args...)
		if err != nil {
			return fmt.Errorf("request credential rotation: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
		}
		return rows.Err()
	})
	return names, err
}

// RevokeCredentials revokes every credential of member id at once; its
// agent is refused until it enrols again with a new secret. It returns
// false when the member had no credential.
func (s *Store) RevokeCredentials(ctx context.Context, id int64, now time.Time) (bool, error) {
	var had bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var cur sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT agent_token_hash FROM members WHERE id=$1`, id).Scan(&cur); err != nil {
			return classify(err, fmt.Sprintf("member %d", id))
		}
		had = cur.Valid && cur.String != ""
		if err := retireCredentials(ctx, tx, id, ReasonRevoked, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE members SET updated_at=$1 WHERE id=$2`, ms(now), id)
		return err
	})
	return had, err
}
