package store

import (
	"context"
	"fmt"
	"time"
)

// Session is a dashboard login. IDHash is the SHA-256 (hex) of the cookie
// value; the cookie itself is never stored.
type Session struct {
	IDHash     string
	UserID     int64
	UserName   string // filled by GetSession
	IsAdmin    bool   // filled by GetSession
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end, however active the session is
	RemoteAddr string
	UserAgent  string
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se *Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, remote_addr, user_agent)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, se.IDHash, se.UserID, se.CSRFToken, ms(se.CreatedAt), ms(se.LastSeenAt), ms(se.ExpiresAt),
		se.RemoteAddr, se.UserAgent)
	return classify(err, "session")
}

// GetSession returns the session whose ID hashes to idHash, with its user's
// name. Expiry is the caller's decision.
func (s *Store) GetSession(ctx context.Context, idHash string) (Session, error) {
	var (
		se                     Session
		created, seen, expires int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT s.id_hash, s.user_id, u.name, u.is_admin, s.csrf_token, s.created_at, s.last_seen_at,
		s.expires_at, s.remote_addr, s.user_agent FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`, idHash).
		Scan(&se.IDHash, &se.UserID, &se.UserName, &se.IsAdmin, &se.CSRFToken, &created, &seen, &expires, &se.RemoteAddr, &se.UserAgent)
	if err != nil {
		return se, classify(err, "session")
	}
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = fromMs(created), fromMs(seen), fromMs(expires)
	return se, nil
}

// TouchSession records activity on a session (callers throttle this).
func (s *Store) TouchSession(ctx context.Context, idHash string, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at=$1 WHERE id_hash=$2`, ms(now), idHash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends one session; ending one that is gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash=$1`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user and returns how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id=$1`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return res.RowsAffected()
}

// PruneSessions deletes sessions past their absolute end or idle since
// before idleBefore.
func (s *Store) PruneSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2`, ms(now), ms(idleBefore))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return res.RowsAffected()
}
