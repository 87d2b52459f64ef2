package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Member is a member row.
type Member struct {
	ID                int64
	PoolID            int64
	Pool              string // pool name, filled by queries that join it
	Name              string
	Address           string
	AllowedCIDRs      []string
	ProbeURL          string
	Location          api.Location
	Role              string
	Profile           string // standard, mail, dns or database (internal/links)
	Priority          int
	ShellEnabled      bool
	Status            string
	Enrolled          bool
	TokenHash         string
	Credential        Credential
	HeartbeatInterval time.Duration
	LastHeartbeatAt   *time.Time
	HealthySince      *time.Time
	AgentVersion      string
	Facts             api.Facts
	Stack             api.Stack
	Metrics           *api.Metrics
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const memberCols = `m.id, m.pool_id, p.name, m.name, m.address, m.allowed_cidrs, m.probe_url, m.location, m.role,
	m.priority, m.shell_enabled, m.status, m.enrolled, m.agent_token_hash, m.heartbeat_interval_ms,
	m.last_heartbeat_at, m.healthy_since, m.agent_version, m.facts, m.stack, m.metrics, m.created_at, m.updated_at,
	m.agent_token_next_hash, m.agent_token_next_at, m.agent_token_prev_hash, m.agent_token_prev_until,
	m.credential_issued_at, m.rotate_requested, m.profile`

const memberFrom = ` FROM members m JOIN pools p ON p.id = m.pool_id `

func scanMember(row interface{ Scan(...any) error }) (Member, error) {
	var (
		m                        Member
		cidrs, loc, facts, stack string
		token, metrics           sql.NullString
		interval, created, upd   int64
		last, healthySince       sql.NullInt64
		next, prev               sql.NullString
		nextAt, prevUntil, iss   sql.NullInt64
	)
	err := row.Scan(&m.ID, &m.PoolID, &m.Pool, &m.Name, &m.Address, &cidrs, &m.ProbeURL, &loc, &m.Role,
		&m.Priority, &m.ShellEnabled, &m.Status, &m.Enrolled, &token, &interval,
		&last, &healthySince, &m.AgentVersion, &facts, &stack, &metrics, &created, &upd,
		&next, &nextAt, &prev, &prevUntil, &iss, &m.Credential.RotateRequested, &m.Profile)
	if err != nil {
		return m, err
	}
	_ = json.Unmarshal([]byte(cidrs), &m.AllowedCIDRs)
	_ = json.Unmarshal([]byte(loc), &m.Location)
	_ = json.Unmarshal([]byte(facts), &m.Facts)
	_ = json.Unmarshal([]byte(stack), &m.Stack)
	if metrics.Valid && metrics.String != "" {
		var mt api.Metrics
		if json.Unmarshal([]byte(metrics.String), &mt) == nil {
			m.Metrics = &mt
		}
	}
	m.TokenHash = token.String
	m.Credential.NextHash, m.Credential.NextAt = next.String, fromNullMs(nextAt)
	m.Credential.PrevHash, m.Credential.PrevUntil = prev.String, fromNullMs(prevUntil)
	m.Credential.IssuedAt = fromNullMs(iss)
	m.HeartbeatInterval = time.Duration(interval) * time.Millisecond
	m.LastHeartbeatAt = fromNullMs(last)
	m.HealthySince = fromNullMs(healthySince)
	m.CreatedAt, m.UpdatedAt = fromMs(created), fromMs(upd)
	return m, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// CreateMember inserts m together with its first enrolment secret, in one
// transaction.
func (s *Store) CreateMember(ctx context.Context, m *Member, sec *Secret, now time.Time) error {
	m.CreatedAt, m.UpdatedAt = now.UTC(), now.UTC()
	if m.Status == "" {
		m.Status = api.StatusPending
	}
	if m.AllowedCIDRs == nil {
		m.AllowedCIDRs = []string{}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO members (pool_id, name, address, allowed_cidrs, probe_url, location,
			role, priority, shell_enabled, status, heartbeat_interval_ms, facts, stack, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'{}','{}',$12,$13) RETURNING id`,
			m.PoolID, m.Name, m.Address, jsonText(m.AllowedCIDRs), m.ProbeURL, jsonText(m.Location),
			m.Role, m.Priority, m.ShellEnabled, m.Status, m.HeartbeatInterval.Milliseconds(), ms(now), ms(now)).Scan(&m.ID)
		if err != nil {
			return classify(err, fmt.Sprintf("member %q", m.Name))
		}
		if sec != nil {
			sec.MemberID = m.ID
			return insertSecret(ctx, tx, sec, now)
		}
		return nil
	})
}

// GetMember returns the member name of the pool with ID poolID.
func (s *Store) GetMember(ctx context.Context, poolID int64, name string) (Member, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.pool_id = $1 AND m.name = $2`, poolID, name))
	return m, classify(err, fmt.Sprintf("member %q", name))
}

// GetMemberByID returns one member.
func (s *Store) GetMemberByID(ctx context.Context, id int64) (Member, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.id = $1`, id))
	return m, classify(err, fmt.Sprintf("member %d", id))
}

// MemberByToken returns the member whose agent credential hashes to hash:
// its current one, the next one of a rotation, or the previous one still in
// its overlap (compare hash with the member's fields to tell which).
func (s *Store) MemberByToken(ctx context.Context, hash string) (Member, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.agent_token_hash = $1 OR m.agent_token_next_hash = $1 OR m.agent_token_prev_hash = $1`, hash))
	return m, classify(err, "agent credential")
}

// ListMembers returns the members of a pool (all pools when poolID is 0),
// ordered by pool and name.
func (s *Store) ListMembers(ctx context.Context, poolID int64) ([]Member, error) {
	q := `SELECT ` + memberCols + memberFrom
	var args []any
	if poolID != 0 {
		q += `WHERE m.pool_id = $1 `
		args = append(args, poolID)
	}
	rows, err := s.db.QueryContext(ctx, q+`ORDER BY p.name, m.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UpdateMember writes the operator-set fields of m.
func (s *Store) UpdateMember(ctx context.Context, m *Member, now time.Time) error {
	m.UpdatedAt = now.UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE members SET address=$1, allowed_cidrs=$2, probe_url=$3, location=$4,
		role=$5, priority=$6, shell_enabled=$7, updated_at=$8 WHERE id=$9`,
		m.Address, jsonText(m.AllowedCIDRs), m.ProbeURL, jsonText(m.Location), m.Role, m.Priority, m.ShellEnabled, ms(now), m.ID)
	return mustAffect(res, err, fmt.Sprintf("member %q", m.Name))
}

// DeleteMember removes a member; its agent token is tomb-stoned.
func (s *Store) DeleteMember(ctx context.Context, id int64, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		names, err := tombstoneMembers(ctx, tx, `id = $1`, id, now)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			return classify(sql.ErrNoRows, fmt.Sprintf("member %d", id))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pools SET active_member_id = NULL WHERE active_member_id = $1`, id); err != nil {
			return fmt.Errorf("clear active member: %w", err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM members WHERE id = $1`, id)
		return err
	})
}

// tombstoneMembers remembers every agent credential (current, next and
// previous) of the members matched by where (with one argument) as removed,
// and returns their names.
func tombstoneMembers(ctx context.Context, tx *sql.Tx, where string, arg any, now time.Time) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.id, m.name FROM members m WHERE m.`+where+` ORDER BY m.name`, arg)
	if err != nil {
		return nil, fmt.Errorf("find members to remove: %w", err)
	}
	var (
		names []string
		ids   []int64
	)
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return nil, err
		}
		names, ids = append(names, name), append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := retireCredentials(ctx, tx, id, ReasonRemoved, now); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// HeartbeatUpdate is the state a heartbeat leaves on a member row.
type HeartbeatUpdate struct {
	MemberID     int64
	At           time.Time
	Interval     time.Duration
	AgentVersion string
	Metrics      *api.Metrics
	Facts        *api.Facts // nil: unchanged
	Stack        *api.Stack // nil: unchanged
	// Running lists the jobs the agent reported running, when RunningKnown
	// (protocol 2 agents).
	Running      []int64
	RunningKnown bool
}

// ApplyHeartbeats writes a batch of heartbeats in one transaction. Members
// removed in the meantime are skipped.
func (s *Store) ApplyHeartbeats(ctx context.Context, batch []HeartbeatUpdate) error {
	if len(batch) == 0 {
		return nil
	}
	// Rows are locked in member order, as other multi-member writes go, so
	// that PostgreSQL does not find them in a deadlock.
	slices.SortFunc(batch, func(a, b HeartbeatUpdate) int { return cmp.Compare(a.MemberID, b.MemberID) })
	return s.txRetry(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE members SET last_heartbeat_at=$1, heartbeat_interval_ms=$2,
			agent_version=$3, metrics=$4 WHERE id=$5`)
		if err != nil {
			return fmt.Errorf("prepare heartbeat update: %w", err)
		}
		defer stmt.Close()
		for _, h := range batch {
			var metrics any
			if h.Metrics != nil {
				metrics = jsonText(h.Metrics)
			}
			if _, err := stmt.ExecContext(ctx, ms(h.At), h.Interval.Milliseconds(), h.AgentVersion, metrics, h.MemberID); err != nil {
				return fmt.Errorf("store heartbeat of member %d: %w", h.MemberID, err)
			}
			if h.Facts != nil || h.Stack != nil {
				sets, args := []string{}, []any{}
				if h.Facts != nil {
					args = append(args, jsonText(h.Facts))
					sets = append(sets, fmt.Sprintf("facts=$%d", len(args)))
				}
				if h.Stack != nil {
					args = append(args, jsonText(h.Stack))
					sets = append(sets, fmt.Sprintf("stack=$%d", len(args)))
				}
				args = append(args, h.MemberID)
				if _, err := tx.ExecContext(ctx, `UPDATE members SET `+strings.Join(sets, ", ")+fmt.Sprintf(` WHERE id=$%d`, len(args)), args...); err != nil {
					return fmt.Errorf("store facts of member %d: %w", h.MemberID, err)
				}
			}
		}
		return nil
	})
}

// SetMemberStatus records a health transition.
func (s *Store) SetMemberStatus(ctx context.Context, id int64, status string, healthySince *time.Time, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE members SET status=$1, healthy_since=$2, updated_at=$3 WHERE id=$4`,
		status, msPtr(healthySince), ms(now), id)
	if err != nil {
		return fmt.Errorf("set status of member %d: %w", id, err)
	}
	return nil
}

// MemberBeat is the cheap part of a member row that changes with every
// heartbeat and every edit.
type MemberBeat struct {
	ID, PoolID    int64
	LastHeartbeat *time.Time
	UpdatedAt     time.Time
}

// MemberBeats returns the heartbeat time and last change of every member,
// without decoding the rest of the rows.
func (s *Store) MemberBeats(ctx context.Context) ([]MemberBeat, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, pool_id, last_heartbeat_at, updated_at FROM members`)
	if err != nil {
		return nil, fmt.Errorf("list member heartbeats: %w", err)
	}
	defer rows.Close()
	var out []MemberBeat
	for rows.Next() {
		var (
			b    MemberBeat
			last sql.NullInt64
			upd  int64
		)
		if err := rows.Scan(&b.ID, &b.PoolID, &last, &upd); err != nil {
			return nil, err
		}
		b.LastHeartbeat, b.UpdatedAt = fromNullMs(last), fromMs(upd)
		out = append(out, b)
	}
	return out, rows.Err()
}

// PoolsChangedSince reports whether any pool was changed at or after t.
func (s *Store) PoolsChangedSince(ctx context.Context, t time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pools WHERE updated_at >= $1`, ms(t)).Scan(&n)
	return n > 0, err
}

// MemberDependent is something that stops working when a member goes: a
// protection it is the source, standby or DNS cut target of.
type MemberDependent struct {
	Account string
	Role    string // "source", "standby" or "cut target"
	Other   string // the protection's other member
}

// MemberDependents lists the protections that name a member.
func (s *Store) MemberDependents(ctx context.Context, memberID int64) ([]MemberDependent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT pr.account, pr.source_member_id, pr.standby_member_id, sm.name, bm.name
		FROM protections pr JOIN members sm ON sm.id = pr.source_member_id JOIN members bm ON bm.id = pr.standby_member_id
		WHERE pr.source_member_id = $1 OR pr.standby_member_id = $1 OR pr.cut_to_member_id = $1 ORDER BY pr.account`, memberID)
	if err != nil {
		return nil, fmt.Errorf("list the protections of member %d: %w", memberID, err)
	}
	defer rows.Close()
	var out []MemberDependent
	for rows.Next() {
		var (
			d              MemberDependent
			src, stb       int64
			srcName, stbNm string
		)
		if err := rows.Scan(&d.Account, &src, &stb, &srcName, &stbNm); err != nil {
			return nil, fmt.Errorf("read protection: %w", err)
		}
		switch memberID {
		case src:
			d.Role, d.Other = "source", stbNm
		case stb:
			d.Role, d.Other = "standby", srcName
		default:
			d.Role, d.Other = "cut target", srcName
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
