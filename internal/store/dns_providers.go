package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// DNSProvider is a named DNS provider (internal/dnsprov). Config holds no
// secret; SecretSealed is its credential sealed with the master key.
type DNSProvider struct {
	ID           int64
	Name, Kind   string
	Config       json.RawMessage
	SecretSealed string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const dnsProviderSelect = `SELECT id, name, kind, config, secret_sealed, created_at, updated_at FROM dns_providers `

func scanDNSProvider(row interface{ Scan(...any) error }) (DNSProvider, error) {
	var (
		p          DNSProvider
		cfg        string
		created, u int64
	)
	err := row.Scan(&p.ID, &p.Name, &p.Kind, &cfg, &p.SecretSealed, &created, &u)
	p.Config, p.CreatedAt, p.UpdatedAt = json.RawMessage(cfg), fromMs(created), fromMs(u)
	return p, err
}

// CreateDNSProvider stores a provider; a taken name is a Conflict.
func (s *Store) CreateDNSProvider(ctx context.Context, p *DNSProvider, now time.Time) error {
	p.CreatedAt, p.UpdatedAt = now.UTC(), now.UTC()
	err := s.w.QueryRowContext(ctx, `INSERT INTO dns_providers (name, kind, config, secret_sealed, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$5) RETURNING id`,
		p.Name, p.Kind, string(p.Config), p.SecretSealed, ms(now)).Scan(&p.ID)
	return classify(err, "DNS provider "+p.Name)
}

// ListDNSProviders lists the providers by name.
func (s *Store) ListDNSProviders(ctx context.Context) ([]DNSProvider, error) {
	rows, err := s.db.QueryContext(ctx, dnsProviderSelect+`ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list DNS providers: %w", err)
	}
	defer rows.Close()
	var out []DNSProvider
	for rows.Next() {
		p, err := scanDNSProvider(rows)
		if err != nil {
			return nil, fmt.Errorf("read DNS provider: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// GetDNSProvider returns a provider by name.
func (s *Store) GetDNSProvider(ctx context.Context, name string) (DNSProvider, error) {
	p, err := scanDNSProvider(s.db.QueryRowContext(ctx, dnsProviderSelect+`WHERE name = $1`, name))
	return p, classify(err, "DNS provider "+name)
}

// DeleteDNSProvider removes a provider; a missing one is NotFound.
func (s *Store) DeleteDNSProvider(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM dns_providers WHERE name = $1`, name)
	return mustAffect(res, err, "DNS provider "+name)
}

// PoolsUsingDNSProvider names the pools whose failover record is published
// at the provider, by name.
func (s *Store) PoolsUsingDNSProvider(ctx context.Context, name string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM pools WHERE dns_provider = $1 ORDER BY name`, name)
	if err != nil {
		return nil, fmt.Errorf("pools using DNS provider %s: %w", name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
