package web

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// fakeProtections is an in-memory Protections: it records every call (as
// "Method arg arg …"), answers with the values it holds, and fails a method
// named in fail with that error.
type fakeProtections struct {
	mu       sync.Mutex
	calls    []string
	fail     map[string]error
	prots    []api.Protection
	runs     map[int64]api.Run
	logs     map[int64][]api.RunLogLine
	accounts api.AccountList
	changes  []api.DNSChange
	nextRun  int64
	lastCut  api.DNSCut
	update   api.ProtectionUpdate
	create   api.ProtectionCreate
}

var _ Protections = (*fakeProtections)(nil)

func newFakeProtections() *fakeProtections {
	return &fakeProtections{fail: map[string]error{}, runs: map[int64]api.Run{}, logs: map[int64][]api.RunLogLine{}, nextRun: 100}
}

// call records a call and returns the error set for method, if any. The
// caller holds f.mu.
func (f *fakeProtections) call(method string, args ...any) error {
	s := method
	for _, a := range args {
		s += " " + fmt.Sprint(a)
	}
	f.calls = append(f.calls, s)
	return f.fail[method]
}

// called reports whether a call starting with prefix was made.
func (f *fakeProtections) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func (f *fakeProtections) setFail(method string, err error) {
	f.mu.Lock()
	f.fail[method] = err
	f.mu.Unlock()
}

func (f *fakeProtections) find(pool, account string) (int, error) {
	for i, p := range f.prots {
		if p.Pool == pool && p.Account == account {
			return i, nil
		}
	}
	return -1, apperr.New(apperr.NotFound, "account %s of pool %s is not protected", account, pool)
}

func (f *fakeProtections) Accounts(ctx context.Context, pool, member string, refresh bool) (api.AccountList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Accounts", pool, member, refresh); err != nil {
		return api.AccountList{}, err
	}
	return f.accounts, nil
}

func (f *fakeProtections) ListProtections(ctx context.Context, pool string) ([]api.Protection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ListProtections", pool); err != nil {
		return nil, err
	}
	return slices.Clone(f.prots), nil
}

func (f *fakeProtections) CreateProtection(ctx context.Context, pool string, in api.ProtectionCreate) (api.Protection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CreateProtection", pool, in.Account); err != nil {
		return api.Protection{}, err
	}
	f.create = in
	next := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	p := api.Protection{ID: int64(len(f.prots) + 1), Pool: pool, Account: in.Account, Source: in.Source, Standby: in.Standby,
		Schedule: in.Schedule, Records: in.Records, TTL: in.TTL, Status: api.ProtectionActive, NextRunAt: &next}
	f.prots = append(f.prots, p)
	return p, nil
}

func (f *fakeProtections) GetProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("GetProtection", pool, account); err != nil {
		return api.Protection{}, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	return f.prots[i], nil
}

func (f *fakeProtections) UpdateProtection(ctx context.Context, pool, account string, in api.ProtectionUpdate) (api.Protection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("UpdateProtection", pool, account); err != nil {
		return api.Protection{}, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	f.update = in
	return f.prots[i], nil
}

func (f *fakeProtections) SetPaused(ctx context.Context, pool, account string, paused bool) (api.Protection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("SetPaused", pool, account, paused); err != nil {
		return api.Protection{}, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	f.prots[i].Status = api.ProtectionActive
	if paused {
		f.prots[i].Status = api.ProtectionPaused
	}
	return f.prots[i], nil
}

func (f *fakeProtections) DeleteProtection(ctx context.Context, pool, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("DeleteProtection", pool, account); err != nil {
		return err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return err
	}
	f.prots = slices.Delete(f.prots, i, i+1)
	return nil
}

func (f *fakeProtections) RunNow(ctx context.Context, pool, account string) (api.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("RunNow", pool, account); err != nil {
		return api.Run{}, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return api.Run{}, err
	}
	f.nextRun++
	r := api.Run{ID: f.nextRun, Protection: f.prots[i].ID, Status: api.RunQueued, Trigger: "manual", CreatedAt: time.Now()}
	f.runs[r.ID] = r
	return r, nil
}

func (f *fakeProtections) Reverse(ctx context.Context, pool, account string) (api.Protection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Reverse", pool, account); err != nil {
		return api.Protection{}, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	p := &f.prots[i]
	p.Source, p.Standby = p.Standby, p.Source
	p.Status, p.CutTo, p.CutAt, p.CutReason, p.Blocked = api.ProtectionActive, "", nil, "", ""
	return *p, nil
}

func (f *fakeProtections) Runs(ctx context.Context, pool, account string, limit int) ([]api.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Runs", pool, account, limit); err != nil {
		return nil, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return nil, err
	}
	var out []api.Run
	for _, r := range f.runs {
		if r.Protection == f.prots[i].ID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b api.Run) int { return int(b.ID - a.ID) })
	return out, nil
}

func (f *fakeProtections) Run(ctx context.Context, id int64) (api.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Run", id); err != nil {
		return api.Run{}, err
	}
	r, ok := f.runs[id]
	if !ok {
		return r, apperr.New(apperr.NotFound, "run %d not found", id)
	}
	return r, nil
}

// RunLog polls for lines after seq until wait has passed or the run ended.
func (f *fakeProtections) RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error) {
	deadline := time.Now().Add(wait)
	for {
		f.mu.Lock()
		var out []api.RunLogLine
		for _, l := range f.logs[id] {
			if l.Seq > after {
				out = append(out, l)
			}
		}
		ended := f.runs[id].FinishedAt != nil
		f.mu.Unlock()
		if len(out) > 0 || ended || !time.Now().Before(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (f *fakeProtections) CutDNS(ctx context.Context, pool, account string, in api.DNSCut) (api.DNSCutResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("CutDNS", pool, account, in.To, in.DryRun); err != nil {
		return api.DNSCutResult{}, err
	}
	i, err := f.find(pool, account)
	if err != nil {
		return api.DNSCutResult{}, err
	}
	f.lastCut = in
	from := f.prots[i].Source
	if f.prots[i].CutTo != "" {
		from = f.prots[i].CutTo
	}
	if p := &f.prots[i]; !in.DryRun && in.To == p.Source {
		p.Status, p.CutTo, p.CutAt, p.CutReason, p.Blocked = api.ProtectionActive, "", nil, "", ""
	} else if !in.DryRun {
		p.CutTo = in.To
	}
	return api.DNSCutResult{Pool: pool, Account: account, From: from, To: in.To, DryRun: in.DryRun, Changes: f.changes}, nil
}

// log appends lines to run id's log.
func (f *fakeProtections) log(id int64, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range lines {
		seq := int64(len(f.logs[id]) + 1)
		f.logs[id] = append(f.logs[id], api.RunLogLine{Seq: seq, Time: time.Now(), Line: l})
	}
}

// setRun replaces run r.
func (f *fakeProtections) setRun(r api.Run) {
	f.mu.Lock()
	f.runs[r.ID] = r
	f.mu.Unlock()
}
