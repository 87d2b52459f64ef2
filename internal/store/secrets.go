package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

// Secret is a single-use enrolment secret, stored hashed.
type Secret struct {
	ID        int64
	MemberID  int64
	Hash      string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func insertSecret(ctx context.Context, tx *sql.Tx, sec *Secret, now time.Time) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO enrollment_secrets (member_id, secret_hash, created_at, expires_at)
		VALUES ($1,$2,$3,$4) RETURNING id`, sec.MemberID, sec.Hash, ms(now), ms(sec.ExpiresAt)).Scan(&sec.ID)
	return classify(err, "enrolment secret")
}

// ReplaceSecret invalidates a member's unused secrets and stores sec.
func (s *Store) ReplaceSecret(ctx context.Context, sec *Secret, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM enrollment_secrets WHERE member_id = $1 AND used_at IS NULL`, sec.MemberID); err != nil {
			return fmt.Errorf("invalidate old secrets: %w", err)
		}
		return insertSecret(ctx, tx, sec, now)
	})
}

// Enroll redeems the secret hashing to secretHash: it checks that the secret
// exists, is unused and unexpired, lets allow decide on the member (source
// address check), then marks the secret used and stores the agent's token
// hash, all in one transaction. Refusals are apperr.Forbidden errors with a
// message saying why; nothing is changed then. note, when set, learns the
// secret's member as soon as it is known, refused or not.
func (s *Store) Enroll(ctx context.Context, secretHash, tokenHash, from string, now time.Time, note func(Member), allow func(Member) error) (Member, error) {
	var m Member
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var (
			id, memberID, expires int64
			stored                string
			used                  sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT id, member_id, secret_hash, expires_at, used_at FROM enrollment_secrets WHERE secret_hash = $1`,
			secretHash).Scan(&id, &memberID, &stored, &expires, &used)
		if err == sql.ErrNoRows || (err == nil && subtle.ConstantTimeCompare([]byte(stored), []byte(secretHash)) != 1) {
			return apperr.New(apperr.Forbidden, "enrolment secret is not valid (wrong, replaced, or its member was removed)")
		}
		if err != nil {
			return fmt.Errorf("look up enrolment secret: %w", err)
		}
		m, err = scanMember(tx.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.id = $1`, memberID))
		if err != nil {
			return classify(err, "member of enrolment secret")
		}
		if note != nil {
			note(m)
		}
		if used.Valid {
			return apperr.New(apperr.Forbidden, "enrolment secret was already used at %s; create a new one with `poolctl member secret`", fromMs(used.Int64).Format(time.RFC3339))
		}
		if now.UnixMilli() >= expires {
			return apperr.New(apperr.Forbidden, "enrolment secret expired at %s; create a new one with `poolctl member secret`", fromMs(expires).Format(time.RFC3339))
		}
		if err := allow(m); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE enrollment_secrets SET used_at=$1, used_from=$2 WHERE id=$3 AND used_at IS NULL`, ms(now), from, id)
		if err != nil {
			return fmt.Errorf("mark secret used: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Forbidden, "enrolment secret was already used")
		}
		// Re-enrolment: every previous credential stops working.
		if err := retireCredentials(ctx, tx, m.ID, ReasonReenrolled, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET agent_token_hash=$1, credential_issued_at=$2, enrolled=TRUE, updated_at=$2 WHERE id=$3`,
			tokenHash, ms(now), m.ID); err != nil {
			return classify(err, "agent credential")
		}
		m.TokenHash, m.Enrolled = tokenHash, true
		m.Credential = Credential{IssuedAt: &now}
		return nil
	})
	return m, err
}
