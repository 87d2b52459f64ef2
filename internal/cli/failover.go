package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/dnsprov"
	"github.com/poolctl/poolctl/internal/failover"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/metrics"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/zones"
)

// The adapters below connect the failover engine to the fleet service, the
// store and the zone service; the engine itself knows none of them.

const failoverLease = "failover"

type foSource struct {
	st *store.Store
	fl *fleet.Service
}

func (a foSource) Pools(ctx context.Context) ([]failover.PoolState, error) {
	ps, err := a.st.ListPools(ctx)
	out := make([]failover.PoolState, 0, len(ps))
	for _, p := range ps {
		out = append(out, failover.PoolState{ID: p.ID, Name: p.Name, Record: p.FailoverRecord, Provider: p.DNSProvider, Delay: p.FailoverDelay,
			TTL: p.TTL, Failback: p.Failback, Hook: p.Hook, ActiveMemberID: p.ActiveMemberID})
	}
	return out, err
}

func (a foSource) Members(ctx context.Context, poolID int64) ([]failover.MemberState, error) {
	hs := a.fl.MemberHealth(poolID)
	out := make([]failover.MemberState, 0, len(hs))
	for _, h := range hs {
		addr, _ := netip.ParseAddr(h.Address)
		out = append(out, failover.MemberState{ID: h.MemberID, Name: h.Member, Address: addr, Priority: h.Priority,
			ProbeURL: h.ProbeURL, Status: h.Status, LastBeat: h.Since, HealthySince: h.HealthySince})
	}
	return out, nil
}

type foState struct {
	st  *store.Store
	now func() time.Time
}

func (a foState) SetActive(ctx context.Context, poolID, memberID int64, banner *api.Banner, epoch int64) error {
	err := a.st.SetActiveMember(ctx, poolID, memberID, banner, failoverLease, epoch, a.now())
	if errors.Is(err, store.ErrFenced) {
		return fmt.Errorf("%w: %v", failover.ErrFenced, err)
	}
	return err
}

// foPublisher publishes a pool's failover record in the built-in zones, or
// at the pool's DNS provider (the registry), removing then any copy the
// built-in zones still hold from before the pool moved there.
type foPublisher struct {
	z   *zones.Service
	reg *dnsprov.Registry
}

func (a foPublisher) Publish(ctx context.Context, p failover.PoolState, addr netip.Addr) error {
	if p.Provider == "" {
		return a.z.PublishAddress(ctx, p.Record, p.TTL, addr, fleet.ManagedTag(p.Name))
	}
	if _, err := a.reg.PublishAddress(ctx, p.Provider, p.Record, p.TTL, addr); err != nil {
		return err
	}
	return a.z.Unpublish(ctx, fleet.ManagedTag(p.Name))
}

// poolRecords checks a pool's failover record where it is published: the
// built-in zones, or its DNS provider.
type poolRecords struct {
	z   *zones.Service
	reg *dnsprov.Registry
}

func (a poolRecords) CheckFailoverRecord(ctx context.Context, fqdn string) error {
	return a.z.CheckFailoverRecord(ctx, fqdn)
}

func (a poolRecords) CheckProviderRecord(ctx context.Context, provider, fqdn string) error {
	return a.reg.CheckRecord(ctx, provider, fqdn)
}

func (a poolRecords) UnpublishProvider(ctx context.Context, provider, fqdn string) error {
	return a.reg.UnpublishAddress(ctx, provider, fqdn)
}

func (a poolRecords) Unpublish(ctx context.Context, managed string) error {
	return a.z.Unpublish(ctx, managed)
}

type foEvents struct {
	fl *fleet.Service
	m  *metrics.Registry // counts the record's moves; may be nil
}

func (a foEvents) Emit(ctx context.Context, e api.Event) {
	if k := failoverKind(e.Kind); k != "" && a.m != nil {
		a.m.Failover(k)
	}
	a.fl.Emit(ctx, e)
}

type foLease struct {
	st     *store.Store
	holder string
	now    func() time.Time
}

func (a foLease) Acquire(ctx context.Context) (int64, error) {
	return a.st.AcquireLease(ctx, failoverLease, a.holder, 15*time.Second, a.now())
}

func (a foLease) Release(ctx context.Context) error {
	return a.st.ReleaseLease(ctx, failoverLease, a.holder)
}

// foWitnesses asks the other healthy members' agents to probe a target
// through the jobs channel (job kind probe.check).
type foWitnesses struct{ fl *fleet.Service }

func (a foWitnesses) Probe(ctx context.Context, poolID int64, exclude []int64, target string) []failover.Observation {
	skip := map[int64]bool{}
	for _, id := range exclude {
		skip[id] = true
	}
	var (
		mu  sync.Mutex
		out []failover.Observation
		wg  sync.WaitGroup
	)
	for _, h := range a.fl.MemberHealth(poolID) {
		if skip[h.MemberID] || h.Status != api.StatusHealthy {
			continue
		}
		wg.Add(1)
		go func(h fleet.Health) {
			defer wg.Done()
			j, err := a.fl.RunInternal(ctx, h.MemberID, "probe.check", map[string]string{"target": target})
			if err != nil || j.Status != api.JobSucceeded {
				return // no answer: not counted
			}
			var res struct {
				OK     bool   `json:"ok"`
				Detail string `json:"detail"`
			}
			if json.Unmarshal(j.Result, &res) != nil {
				return
			}
			mu.Lock()
			out = append(out, failover.Observation{Observer: h.Member, OK: res.OK, Detail: res.Detail})
			mu.Unlock()
		}(h)
	}
	wg.Wait()
	return out
}

// foHooks POSTs hook payloads.
type foHooks struct{ c *http.Client }

func (a foHooks) CallURL(ctx context.Context, url string, payload []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "poolctl/"+Version)
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// foAPI serves make-active for the API.
type foAPI struct {
	e  *failover.Engine
	fl *fleet.Service
}

func (a foAPI) MakeActive(ctx context.Context, pool, member string, force bool) (api.Pool, error) {
	if err := a.e.MakeActive(ctx, pool, member, force); err != nil {
		return api.Pool{}, err
	}
	return a.fl.Pool(ctx, pool)
}

// replicaID names this server replica for the failover lease: stable across
// restarts of the same server (host and data directory), so a restarted
// server takes its lease back at once instead of waiting for it to expire.
func replicaID(data string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(data); err == nil {
		data = abs
	}
	return host + ":" + data
}
