package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// User is a dashboard user. Only a password hash (argon2id, PHC string
// format) is stored.
type User struct {
	ID           int64
	Name         string
	PasswordHash string
	IsAdmin      bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const userCols = `id, name, password_hash, is_admin, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var (
		u            User
		created, upd int64
	)
	err := row.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.IsAdmin, &created, &upd)
	u.CreatedAt, u.UpdatedAt = fromMs(created), fromMs(upd)
	return u, err
}

// CreateUser inserts u and sets its ID and times. A duplicate name is a
// Conflict.
func (s *Store) CreateUser(ctx context.Context, u *User, now time.Time) error {
	u.CreatedAt, u.UpdatedAt = now.UTC(), now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO users (name, password_hash, is_admin, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5) RETURNING id`, u.Name, u.PasswordHash, u.IsAdmin, ms(now), ms(now)).Scan(&u.ID)
	return classify(err, fmt.Sprintf("user %q", u.Name))
}

// CreateFirstUser inserts u only when there is no user yet, in one
// transaction; it reports whether it did.
func (s *Store) CreateFirstUser(ctx context.Context, u *User, now time.Time) (bool, error) {
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if n > 0 {
			return nil
		}
		u.CreatedAt, u.UpdatedAt = now.UTC(), now.UTC()
		err := tx.QueryRowContext(ctx, `INSERT INTO users (name, password_hash, is_admin, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5) RETURNING id`, u.Name, u.PasswordHash, u.IsAdmin, ms(now), ms(now)).Scan(&u.ID)
		if err != nil {
			return classify(err, fmt.Sprintf("user %q", u.Name))
		}
		created = true
		return nil
	})
	return created, err
}

// GetUser returns the user called name.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	return u, classify(err, fmt.Sprintf("user %q", name))
}

// ListUsers returns every user by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, id int64, hash string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash=$1, updated_at=$2 WHERE id=$3`, hash, ms(now), id)
	return mustAffect(res, err, fmt.Sprintf("user %d", id))
}

// DeleteUser removes a user and, through the cascade, its sessions.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE name = $1`, name)
	return mustAffect(res, err, fmt.Sprintf("user %q", name))
}
