package monitor

import (
	"context"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Limits of maintenance windows.
const (
	MinWindow = time.Minute
	MaxWindow = 31 * 24 * time.Hour
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Maintenance says whether a pool or a member is in a maintenance window
// (*Windows implements it).
type Maintenance interface {
	// Covering returns an open window at now that covers member of pool
	// (member "": the pool's own incidents), or nil. A window of the whole
	// pool covers its members too.
	Covering(ctx context.Context, pool, member string, now time.Time) (*api.MaintenanceWindow, error)
}

// WindowStore is what Windows keeps in the store (internal/store implements it).
type WindowStore interface {
	GetPool(ctx context.Context, name string) (store.Pool, error)
	GetMember(ctx context.Context, poolID int64, name string) (store.Member, error)
	CreateMaintenance(ctx context.Context, w *store.MaintenanceWindow, now time.Time) error
	ListMaintenance(ctx context.Context, pool string, since time.Time) ([]store.MaintenanceWindow, error)
	StopMaintenance(ctx context.Context, poolID int64, member string, now time.Time) (int, error)
}

// Windows are the maintenance windows of pools and members: one-off (from
// now, for a duration) or scheduled (a cron expression in UTC, each
// activation opening a window of a duration). While a window is open the
// monitor sends no alert for what it covers, and, with PauseFailover, the
// failover engine does not move the pool's record away from it.
type Windows struct {
	Store WindowStore
	Now   func() time.Time // time.Now when nil
}

func (w *Windows) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

// Start opens a one-off window now or stores a scheduled one.
func (w *Windows) Start(ctx context.Context, pool string, in api.MaintenanceStart) (api.MaintenanceWindow, error) {
	d := in.For.D()
	switch {
	case d == 0:
		return api.MaintenanceWindow{}, apperr.New(apperr.Invalid, "a maintenance window needs a duration (for), such as 2h")
	case d < MinWindow || d > MaxWindow:
		return api.MaintenanceWindow{}, apperr.New(apperr.Invalid, "maintenance window of %s out of range: %s to %s", d, MinWindow, MaxWindow)
	case len(in.Reason) > 500:
		return api.MaintenanceWindow{}, apperr.New(apperr.Invalid, "maintenance reason longer than 500 characters")
	}
	in.Cron = strings.TrimSpace(in.Cron)
	if in.Cron != "" {
		if _, err := cronParser.Parse(in.Cron); err != nil {
			return api.MaintenanceWindow{}, apperr.New(apperr.Invalid, "maintenance schedule %q: %v (five fields: minute hour day month weekday, UTC)", in.Cron, err)
		}
	}
	p, err := w.Store.GetPool(ctx, pool)
	if err != nil {
		return api.MaintenanceWindow{}, err
	}
	if in.Member != "" {
		if _, err := w.Store.GetMember(ctx, p.ID, in.Member); err != nil {
			return api.MaintenanceWindow{}, err
		}
	}
	now := w.now().UTC().Truncate(time.Millisecond)
	sw := store.MaintenanceWindow{PoolID: p.ID, Pool: p.Name, Member: in.Member, Reason: strings.TrimSpace(in.Reason),
		PauseFailover: in.PauseFailover, StartsAt: now, Cron: in.Cron, Duration: d}
	if in.Cron == "" {
		end := now.Add(d)
		sw.EndsAt = &end
	}
	if err := w.Store.CreateMaintenance(ctx, &sw, now); err != nil {
		return api.MaintenanceWindow{}, err
	}
	return windowAPI(sw, now), nil
}

// Stop ends the one-off windows of pool (or of its member) now and removes
// their scheduled ones; NotFound when there was none.
func (w *Windows) Stop(ctx context.Context, pool, member string) (api.MaintenanceStopped, error) {
	p, err := w.Store.GetPool(ctx, pool)
	if err != nil {
		return api.MaintenanceStopped{}, err
	}
	n, err := w.Store.StopMaintenance(ctx, p.ID, member, w.now())
	if err != nil {
		return api.MaintenanceStopped{}, err
	}
	if n == 0 {
		what := "pool " + pool
		if member != "" {
			what = "member " + member + " of pool " + pool
		}
		return api.MaintenanceStopped{}, apperr.New(apperr.NotFound, "%s has no maintenance window to stop", what)
	}
	return api.MaintenanceStopped{Pool: pool, Member: member, Stopped: n}, nil
}

// List lists the windows of pool ("" all) that are open or still to come.
func (w *Windows) List(ctx context.Context, pool string) ([]api.MaintenanceWindow, error) {
	if pool != "" {
		if _, err := w.Store.GetPool(ctx, pool); err != nil {
			return nil, err
		}
	}
	now := w.now()
	ws, err := w.Store.ListMaintenance(ctx, pool, now)
	if err != nil {
		return nil, err
	}
	out := []api.MaintenanceWindow{}
	for _, sw := range ws {
		out = append(out, windowAPI(sw, now))
	}
	return out, nil
}

// Covering implements Maintenance.
func (w *Windows) Covering(ctx context.Context, pool, member string, now time.Time) (*api.MaintenanceWindow, error) {
	if pool == "" {
		return nil, nil
	}
	ws, err := w.Store.ListMaintenance(ctx, pool, now)
	if err != nil {
		return nil, err
	}
	return covering(ws, member, now, false), nil
}

// Paused reports whether a window with failover paused covers member of
// pool at now, and why (for the failover engine's event).
func (w *Windows) Paused(ctx context.Context, pool, member string, now time.Time) (bool, string, error) {
	ws, err := w.Store.ListMaintenance(ctx, pool, now)
	if err != nil {
		return false, "", err
	}
	c := covering(ws, member, now, true)
	if c == nil {
		return false, "", nil
	}
	return true, describe(*c), nil
}

func covering(ws []store.MaintenanceWindow, member string, now time.Time, pausing bool) *api.MaintenanceWindow {
	for _, sw := range ws {
		if (sw.Member != "" && sw.Member != member) || (pausing && !sw.PauseFailover) {
			continue
		}
		if a := windowAPI(sw, now); a.Active {
			return &a
		}
	}
	return nil
}

// describe names a window for people: "maintenance of web until 15:04 UTC (kernel upgrade)".
func describe(w api.MaintenanceWindow) string {
	s := "maintenance of " + w.Pool
	if w.Member != "" {
		s = "maintenance of " + w.Member
	}
	if w.Until != nil {
		s += " until " + w.Until.UTC().Format("2006-01-02 15:04 UTC")
	}
	if w.Reason != "" {
		s += " (" + w.Reason + ")"
	}
	return s
}

// Describe is describe for other packages (the dashboard).
func Describe(w api.MaintenanceWindow) string { return describe(w) }

// windowAPI is sw with its state at now. A scheduled window is open when
// its latest activation t has t <= now < t+Duration.
func windowAPI(sw store.MaintenanceWindow, now time.Time) api.MaintenanceWindow {
	a := api.MaintenanceWindow{ID: sw.ID, Pool: sw.Pool, Member: sw.Member, Reason: sw.Reason, PauseFailover: sw.PauseFailover,
		StartsAt: sw.StartsAt, EndsAt: sw.EndsAt, Cron: sw.Cron, For: api.Duration(sw.Duration), CreatedAt: sw.CreatedAt}
	if sw.Cron == "" {
		if sw.EndsAt != nil && !now.Before(sw.StartsAt) && now.Before(*sw.EndsAt) {
			a.Active, a.Until = true, sw.EndsAt
		}
		return a
	}
	sched, err := cronParser.Parse(sw.Cron)
	if err != nil {
		return a // validated when stored
	}
	now = now.UTC()
	from := now.Add(-sw.Duration)
	if from.Before(sw.StartsAt) {
		from = sw.StartsAt.Add(-time.Nanosecond)
	}
	if t := sched.Next(from); !t.After(now) {
		end := t.Add(sw.Duration)
		a.Active, a.Until = true, &end
	}
	next := sched.Next(now)
	a.NextAt = &next
	return a
}

var _ Maintenance = (*Windows)(nil)
