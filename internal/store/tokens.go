package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Token is an API token row; only its hash is stored.
type Token struct {
	ID         int64
	Name       string
	Prefix     string
	Hash       string
	Scope      string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

const tokenCols = `id, name, prefix, token_hash, scope, created_at, last_used_at, expires_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var (
		t                      Token
		created                int64
		lastUsed, exp, revoked sql.NullInt64
	)
	err := row.Scan(&t.ID, &t.Name, &t.Prefix, &t.Hash, &t.Scope, &created, &lastUsed, &exp, &revoked)
	t.CreatedAt = fromMs(created)
	t.LastUsedAt, t.ExpiresAt, t.RevokedAt = fromNullMs(lastUsed), fromNullMs(exp), fromNullMs(revoked)
	return t, err
}

// CreateToken stores a new token.
func (s *Store) CreateToken(ctx context.Context, t *Token, now time.Time) error {
	t.CreatedAt = now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO api_tokens (name, prefix, token_hash, scope, created_at, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6) RETURNING id`, t.Name, t.Prefix, t.Hash, t.Scope, ms(now), msPtr(t.ExpiresAt)).Scan(&t.ID)
	return classify(err, fmt.Sprintf("token %q", t.Name))
}

// TokenByHash returns a live (unrevoked) token.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hash))
	return t, classify(err, "token")
}

// TouchToken records a use of the token (callers throttle this).
func (s *Store) TouchToken(ctx context.Context, id int64, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at=$1 WHERE id=$2`, ms(now), id)
	return err
}

// ListTokens returns the live tokens.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE revoked_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a live token.
func (s *Store) RevokeToken(ctx context.Context, id int64, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at=$1 WHERE id=$2 AND revoked_at IS NULL`, ms(now), id)
	return mustAffect(res, err, fmt.Sprintf("token %d", id))
}
