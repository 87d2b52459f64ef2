package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ClusterSettings are the DNS cluster's switch and failure threshold.
type ClusterSettings struct {
	Enabled bool
	// FailureThreshold disables a member after that many consecutive
	// failed operations; 0 keeps every member online.
	FailureThreshold int
	UpdatedAt        time.Time
}

// DefaultClusterThreshold is WHM's: 10 consecutive failures.
const DefaultClusterThreshold = 10

// GetClusterSettings returns the settings (the defaults before any change).
func (s *Store) GetClusterSettings(ctx context.Context) (ClusterSettings, error) {
	var (
		c   ClusterSettings
		upd int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT enabled, failure_threshold, updated_at FROM dns_cluster_settings WHERE id = 1`).Scan(&c.Enabled, &c.FailureThreshold, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return ClusterSettings{FailureThreshold: DefaultClusterThreshold}, nil
	}
	if err != nil {
		return c, fmt.Errorf("read DNS cluster settings: %w", err)
	}
	c.UpdatedAt = fromMs(upd)
	return c, nil
}

// SaveClusterSettings writes the settings.
func (s *Store) SaveClusterSettings(ctx context.Context, c ClusterSettings, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO dns_cluster_settings (id, enabled, failure_threshold, updated_at) VALUES (1,$1,$2,$3)
		ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, failure_threshold = excluded.failure_threshold, updated_at = excluded.updated_at`,
		c.Enabled, c.FailureThreshold, ms(now))
	if err != nil {
		return fmt.Errorf("save DNS cluster settings: %w", err)
	}
	return nil
}

// ClusterMember is a nameserver this server writes its zones to.
type ClusterMember struct {
	ID            int64
	Host          string
	URL           string
	TokenSealed   string
	CAPEM         string
	Role          string
	Backend       string
	RemoteVersion string
	RemoteNode    string
	Failures      int
	LastError     string
	LastOKAt      *time.Time
	DisabledAt    *time.Time
	// Debug logs every operation with the member, not only the changes
	// and failures.
	Debug     bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

const clusterMemberCols = `id, host, url, token_sealed, ca_pem, role, backend, remote_version, remote_node, failures, last_error, last_ok_at, disabled_at, debug, created_at, updated_at`

func scanClusterMember(row interface{ Scan(...any) error }) (ClusterMember, error) {
	var (
		m           ClusterMember
		ok, dis     sql.NullInt64
		created, up int64
	)
	err := row.Scan(&m.ID, &m.Host, &m.URL, &m.TokenSealed, &m.CAPEM, &m.Role, &m.Backend, &m.RemoteVersion, &m.RemoteNode,
		&m.Failures, &m.LastError, &ok, &dis, &m.Debug, &created, &up)
	m.LastOKAt, m.DisabledAt = fromNullMs(ok), fromNullMs(dis)
	m.CreatedAt, m.UpdatedAt = fromMs(created), fromMs(up)
	return m, err
}

// CreateClusterMember stores a member; a second one with the same host is
// a Conflict.
func (s *Store) CreateClusterMember(ctx context.Context, m *ClusterMember, now time.Time) error {
	m.CreatedAt, m.UpdatedAt = now.UTC(), now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO dns_cluster_members (host, url, token_sealed, ca_pem, role, backend, remote_version, remote_node, debug, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10) RETURNING id`, m.Host, m.URL, m.TokenSealed, m.CAPEM, m.Role, m.Backend, m.RemoteVersion, m.RemoteNode, m.Debug, ms(now)).Scan(&m.ID)
	return classify(err, fmt.Sprintf("DNS cluster member %s", m.Host))
}

// ListClusterMembers lists the members by host.
func (s *Store) ListClusterMembers(ctx context.Context) ([]ClusterMember, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+clusterMemberCols+` FROM dns_cluster_members ORDER BY host`)
	if err != nil {
		return nil, fmt.Errorf("list DNS cluster members: %w", err)
	}
	defer rows.Close()
	var out []ClusterMember
	for rows.Next() {
		m, err := scanClusterMember(rows)
		if err != nil {
			return nil, fmt.Errorf("read DNS cluster member: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// GetClusterMember returns a member by host.
func (s *Store) GetClusterMember(ctx context.Context, host string) (ClusterMember, error) {
	m, err := scanClusterMember(s.db.QueryRowContext(ctx, `SELECT `+clusterMemberCols+` FROM dns_cluster_members WHERE host = $1`, host))
	return m, classify(err, fmt.Sprintf("DNS cluster member %s", host))
}

// UpdateClusterMember writes a member's settings, health and what it
// reported.
func (s *Store) UpdateClusterMember(ctx context.Context, m *ClusterMember, now time.Time) error {
	m.UpdatedAt = now.UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE dns_cluster_members SET role=$1, remote_version=$2, remote_node=$3, failures=$4, last_error=$5,
		last_ok_at=$6, disabled_at=$7, debug=$8, url=$9, token_sealed=$10, ca_pem=$11, updated_at=$12 WHERE id=$13`,
		m.Role, m.RemoteVersion, m.RemoteNode, m.Failures, m.LastError, msPtr(m.LastOKAt), msPtr(m.DisabledAt), m.Debug, m.URL, m.TokenSealed, m.CAPEM, ms(now), m.ID)
	return mustAffect(res, err, fmt.Sprintf("DNS cluster member %s", m.Host))
}

// UpdateClusterMemberHealth writes only what the engine learns of a member
// (its health and what it reported), so that an operator's change of its
// role made meanwhile stays.
func (s *Store) UpdateClusterMemberHealth(ctx context.Context, m *ClusterMember, now time.Time) error {
	m.UpdatedAt = now.UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE dns_cluster_members SET remote_version=$1, remote_node=$2, failures=$3, last_error=$4,
		last_ok_at=$5, disabled_at=$6, updated_at=$7 WHERE id=$8`,
		m.RemoteVersion, m.RemoteNode, m.Failures, m.LastError, msPtr(m.LastOKAt), msPtr(m.DisabledAt), ms(now), m.ID)
	return mustAffect(res, err, fmt.Sprintf("DNS cluster member %s", m.Host))
}

// DeleteClusterMember removes a member and what was pushed to it.
func (s *Store) DeleteClusterMember(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"dns_cluster_pushed", "dns_cluster_conflicts", "dns_cluster_log"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE member_id = $1`, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM dns_cluster_members WHERE id = $1`, id)
		return mustAffect(res, err, fmt.Sprintf("DNS cluster member %d", id))
	})
}

// ClusterPushed returns the zones a member acknowledged, with their serials.
func (s *Store) ClusterPushed(ctx context.Context, memberID int64) (map[string]uint32, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT zone, serial FROM dns_cluster_pushed WHERE member_id = $1`, memberID)
	if err != nil {
		return nil, fmt.Errorf("list pushed zones: %w", err)
	}
	defer rows.Close()
	out := map[string]uint32{}
	for rows.Next() {
		var (
			z      string
			serial int64
		)
		if err := rows.Scan(&z, &serial); err != nil {
			return nil, err
		}
		out[z] = uint32(serial)
	}
	return out, rows.Err()
}

// SetClusterPushed records that a member and this server agree on serial
// of zone (after a push or a fetch); serial 0 forgets the zone (it was
// deleted on both sides).
func (s *Store) SetClusterPushed(ctx context.Context, memberID int64, zone string, serial uint32) error {
	var err error
	if serial == 0 {
		_, err = s.w.ExecContext(ctx, `DELETE FROM dns_cluster_pushed WHERE member_id = $1 AND zone = $2`, memberID, zone)
	} else {
		_, err = s.w.ExecContext(ctx, `INSERT INTO dns_cluster_pushed (member_id, zone, serial) VALUES ($1,$2,$3)
			ON CONFLICT (member_id, zone) DO UPDATE SET serial = excluded.serial`, memberID, zone, int64(serial))
	}
	if err != nil {
		return fmt.Errorf("record pushed zone %s: %w", zone, err)
	}
	return nil
}
