package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/objstore/s3"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/redact"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/zones"
)

// ReplicationOptions configure account protection on the server.
type ReplicationOptions struct {
	Objects     string // directory or s3:// URL; default DATA/objects
	MasterKey   string // default DATA/master.key (masterKeyPath)
	Concurrency int
	Hours       string
}

// openObjects opens the server's object store.
func openObjects(ctx context.Context, spec, data string) (objstore.Store, string, error) {
	if spec == "" {
		spec = filepath.Join(data, "objects")
	}
	if !strings.HasPrefix(spec, "s3://") {
		st, err := local.Open(spec)
		if err != nil {
			return nil, "", fmt.Errorf("object store %s: %w", spec, err)
		}
		return st, "directory " + spec, nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		// url.Error repeats the URL, secret key and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("--objects %s: %w", redact.URL(spec), err)
	}
	bucket, prefix, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	cfg := s3.Config{Endpoint: u.Host, Bucket: bucket, Prefix: prefix, Region: u.Query().Get("region"),
		UseTLS: u.Query().Get("tls") == "true", CreateBucket: true}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	st, err := s3.New(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("--objects: %w", err)
	}
	return st, fmt.Sprintf("s3 %s bucket %s", u.Host, bucket), nil
}

type protectionEngine struct {
	svc     *protection.Service
	leading atomic.Pointer[func() bool]
	stop    func()
}

// lead makes the engine follow the failover engine's leadership, so one
// replica drives the runs.
func (p *protectionEngine) lead(f func() bool) { p.leading.Store(&f) }

func startProtection(ctx context.Context, o ServerOptions, st *store.Store, fl *fleet.Service, z *zones.Service, log *slog.Logger) (*protectionEngine, error) {
	objs, desc, err := openObjects(ctx, o.Replication.Objects, o.Data)
	if err != nil {
		return nil, err
	}
	key := o.master
	hours, err := protection.ParseHours(o.Replication.Hours)
	if err != nil {
		return nil, fmt.Errorf("--replication-hours: %w", err)
	}
	pe := &protectionEngine{}
	pe.svc = protection.New(protection.Config{Store: st, Fleet: fl, Zones: zonesAdapter{z}, Objects: objs, MasterKey: key,
		Concurrency: o.Replication.Concurrency, Hours: hours, Logger: log,
		Leading: func() bool {
			f := pe.leading.Load()
			return f != nil && (*f)()
		}})
	log.Info("account protection", "objects", desc, "concurrency", o.Replication.Concurrency, "hours", hours.String())
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); pe.svc.Start(runCtx) }()
	pe.stop = func() { cancel(); <-done }
	return pe, nil
}

// zonesAdapter gives the protection service the zone rewrites it needs.
type zonesAdapter struct{ z *zones.Service }

func (a zonesAdapter) List(ctx context.Context) ([]api.Zone, error) { return a.z.List(ctx) }
func (a zonesAdapter) Records(ctx context.Context, zone string) ([]api.Record, error) {
	return a.z.Records(ctx, zone)
}
func (a zonesAdapter) RewriteRecords(ctx context.Context, zone string, rw []protection.Rewrite, why string) error {
	out := make([]zones.Rewrite, len(rw))
	for i, r := range rw {
		out[i] = zones.Rewrite(r)
	}
	return a.z.RewriteRecords(ctx, zone, out, why)
}

// foAccounts lets the failover engine cut a failed member's accounts.
type foAccounts struct{ p *protection.Service }

func (a foAccounts) CutAccounts(ctx context.Context, pool, from string) (any, error) {
	return a.p.CutAccounts(ctx, pool, from)
}

// masterKeyPath is the file of the key that seals secrets in the store
// (created on first start): the pools' chunk keys, the release key, the
// DNS cluster's member tokens.
func masterKeyPath(o ServerOptions) string {
	if o.Replication.MasterKey != "" {
		return o.Replication.MasterKey
	}
	return filepath.Join(o.Data, "master.key")
}
