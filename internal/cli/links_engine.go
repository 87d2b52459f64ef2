package cli

import (
	"context"
	"log/slog"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/links"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/zones"
)

// startLinks runs the linked-nodes engine (distribution runs), on the
// replica that leads like the protection engine.
func startLinks(ctx context.Context, st *store.Store, fl *fleet.Service, z *zones.Service, prot *protectionEngine, log *slog.Logger) (*links.Service, func()) {
	svc := links.New(links.Config{Store: st, Fleet: fl, Zones: linksZones{z}, Objects: prot.svc.Objects(), Logger: log,
		Leading: func() bool {
			f := prot.leading.Load()
			return f != nil && (*f)()
		}})
	fl.OnJobEnd(svc.JobEnded)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); svc.Start(runCtx) }()
	return svc, func() { cancel(); <-done }
}

// linksZones gives the links engine the zone rewrites it needs.
type linksZones struct{ z *zones.Service }

func (a linksZones) List(ctx context.Context) ([]api.Zone, error) { return a.z.List(ctx) }
func (a linksZones) Records(ctx context.Context, zone string) ([]api.Record, error) {
	return a.z.Records(ctx, zone)
}
func (a linksZones) RewriteRecords(ctx context.Context, zone string, rw []links.Rewrite, why string) error {
	out := make([]zones.Rewrite, len(rw))
	for i, r := range rw {
		out[i] = zones.Rewrite(r)
	}
	return a.z.RewriteRecords(ctx, zone, out, why)
}

// linkedObjects lets the members of a distribution run use the agent
// object API under links/runs/{run}/ (the Maildir archives in transit);
// every other key is protection's.
type linkedObjects struct {
	*protection.Service
	links *links.Service
}

var _ apiserver.Protections = linkedObjects{}

func (o linkedObjects) AuthorizeObject(ctx context.Context, a fleet.Agent, key string, write bool) error {
	if strings.HasPrefix(key, "links/") {
		return o.links.AuthorizeObject(ctx, a.Pool, a.Member, key)
	}
	return o.Service.AuthorizeObject(ctx, a, key, write)
}
