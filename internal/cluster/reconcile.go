package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/zones"
)

// How a member and this server are compared. For every zone, the serial
// both last agreed on (after a push or a fetch) tells which side changed
// it since: a change on one side goes to the other, as the member's role
// allows (sync: both ways; write-only: only there; standalone: only
// here); a change on both sides is a conflict, with both versions kept
// and neither overwritten until an operator chooses (conflicts.go).

type action int

const (
	actNone       action = iota
	actAgree             // same serial on both sides: remember it
	actForget            // gone on both sides: forget it
	actPush              // write our copy there
	actDeleteThat        // delete it there
	actFetch             // take its copy here
	actDeleteHere        // delete it here
	actConflict          // both changed it: keep both, list it
	actVerify            // the same serial reached on both sides apart: compare the contents
)

// side is one side's view of a zone.
type side struct {
	serial uint32
	ok     bool // the zone exists on that side
}

// decide is what to do with one zone of a member of role, given this
// server's and the member's serials and what they last agreed on.
func decide(role string, here, there side, agreed store.ClusterAgreement, hadAgreed, full bool) (action, string) {
	w, r := writes(role), reads(role)
	if hadAgreed && agreed.Yielded {
		return actNone, "" // another server writes it there: not ours to write
	}
	base := agreed.Serial
	switch {
	case here.ok && there.ok && here.serial == there.serial:
		switch {
		case full && w:
			return actPush, "" // resync: an equal serial with other content is refused there, and listed
		case hadAgreed && base != here.serial:
			return actVerify, "" // both moved to the same serial: the same change?
		}
		return actAgree, ""
	case here.ok && there.ok:
		if !hadAgreed {
			if role == api.ClusterRoleWriteOnly {
				return actPush, "" // the member refuses what would go backwards
			}
			return actConflict, api.ConflictFirstContact
		}
		changedHere, changedThere := here.serial != base, there.serial != base
		switch {
		case changedHere && !changedThere:
			if w {
				return actPush, ""
			}
			return actNone, "" // standalone: our change stays here
		case !changedHere && changedThere:
			if r {
				return actFetch, ""
			}
			return actConflict, api.ConflictChangedThere
		}
		return actConflict, api.ConflictBothChanged
	case here.ok: // not there
		switch {
		case !hadAgreed:
			if w {
				return actPush, ""
			}
			return actNone, ""
		case role == api.ClusterRoleWriteOnly:
			return actPush, "" // the member lost it: ours to write again
		case here.serial == base:
			return actDeleteHere, "" // deleted there, unchanged here
		}
		return actConflict, api.ConflictDeletedThere
	case there.ok: // not here
		switch {
		case role == api.ClusterRoleStandalone:
			return actFetch, "" // its zones are served here
		case !hadAgreed:
			if r {
				return actFetch, ""
			}
			return actNone, "" // not ours: a write-only member's own zone
		case there.serial == base:
			return actDeleteThat, "" // deleted here, unchanged there
		case role == api.ClusterRoleWriteOnly:
			return actForget, "" // deleted here, then written there by another: not ours
		}
		return actConflict, api.ConflictDeletedHere
	}
	if hadAgreed {
		return actForget, ""
	}
	return actNone, ""
}

// reconcile compares a member with this server and does what differs. It
// returns how many zones were written on either side.
func (s *Service) reconcile(ctx context.Context, m store.ClusterMember, set store.ClusterSettings, full bool) int {
	c, err := s.client(m)
	if err != nil {
		s.failed(ctx, &m, set, err)
		return 0
	}
	start := s.cfg.Now()
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	hello, err := c.ClusterHello(hctx)
	cancel()
	s.logOp(ctx, m, "hello", "", 0, err, start, "")
	if err != nil {
		s.failed(ctx, &m, set, fmt.Errorf("hello: %w", err))
		return 0
	}
	m.RemoteVersion, m.RemoteNode = hello.Version, hello.Node
	there := map[string]side{}
	for _, z := range hello.Zones {
		there[z.Zone] = side{z.Serial, true}
	}
	local, err := s.cfg.Zones.List(ctx)
	if err != nil {
		s.log.Warn("list zones", "err", err)
		return 0
	}
	here := map[string]side{}
	for _, z := range local {
		here[z.Name] = side{z.Serial, true}
	}
	agreed, err := s.st.ClusterAgreements(ctx, m.ID)
	if err != nil {
		s.log.Warn("list agreed zones", "err", err)
		return 0
	}
	open, err := s.openConflicts(ctx, m.ID)
	if err != nil {
		s.log.Warn("list DNS cluster conflicts", "err", err)
		return 0
	}
	names := make([]string, 0, len(here)+len(there))
	for z := range here {
		names = append(names, z)
	}
	for z := range there {
		if !here[z].ok {
			names = append(names, z)
		}
	}
	for z := range agreed {
		if !here[z].ok && !there[z].ok {
			names = append(names, z)
		}
	}
	slices.Sort(names)
	// Zones are independent: a few go at once (a new member's full resync
	// of thousands of zones), each zone's operations in order.
	var (
		mu       sync.Mutex
		done     int
		failed   bool
		disabled bool
		wg       sync.WaitGroup
	)
	mc := m // read by the workers; m's health is written under mu
	next := make(chan string)
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for z := range next {
				a, had := agreed[z]
				act, kind := decide(m.Role, here[z], there[z], a, had, full)
				if (act == actAgree || act == actForget) && open[z] {
					if _, err := s.st.ResolveClusterConflicts(ctx, m.ID, z, "converged", s.cfg.Now()); err != nil {
						s.log.Warn("close DNS cluster conflict", "zone", z, "err", err)
					}
				}
				changed, err := s.do(ctx, mc, c, z, act, kind, here[z], there[z], a, had)
				mu.Lock()
				switch {
				case err != nil && !disabled:
					failed = true
					disabled = s.failed(ctx, &m, set, fmt.Errorf("zone %s: %w", z, err))
				case err == nil && changed:
					done++
				}
				mu.Unlock()
			}
		}()
	}
	for _, z := range names {
		mu.Lock()
		stop := disabled
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break // disabled: no more operations
		}
		next <- z
	}
	close(next)
	wg.Wait()
	if !failed {
		s.succeeded(ctx, &m)
	}
	return done
}

// inFlight is how many zones of one member are compared and sent at once.
const inFlight = 4

// do carries out one decision; changed reports a zone written on a side.
func (s *Service) do(ctx context.Context, m store.ClusterMember, c Member, zone string, act action, kind string, here, there side, a store.ClusterAgreement, had bool) (bool, error) {
	switch act {
	case actAgree:
		if !had || a.Serial != here.serial {
			return false, s.st.SetClusterPushed(ctx, m.ID, zone, here.serial)
		}
		return false, nil
	case actForget:
		return false, s.st.SetClusterPushed(ctx, m.ID, zone, 0)
	case actPush, actDeleteThat:
		return s.pushZone(ctx, m, c, zone, false)
	case actFetch:
		return s.fetchZone(ctx, m, c, zone)
	case actDeleteHere:
		start := s.cfg.Now()
		err := s.cfg.Zones.DeleteReplica(ctx, zone, "")
		s.logOp(ctx, m, "delete-here", zone, here.serial, err, start, "deleted on the member")
		if err != nil {
			return false, err
		}
		s.log.Info("zone deleted here: deleted on member", "member", m.Host, "zone", zone)
		return true, s.st.SetClusterPushed(ctx, m.ID, zone, 0)
	case actConflict:
		s.recordConflict(ctx, m, c, zone, kind, conflictText(kind, m.Host, zone, here, there), here, there)
	case actVerify:
		local, remote, err := s.versions(ctx, c, zone)
		if err != nil {
			return false, err
		}
		if local == remote {
			return false, s.st.SetClusterPushed(ctx, m.ID, zone, here.serial)
		}
		s.recordConflict(ctx, m, c, zone, api.ConflictBothChanged, conflictText(api.ConflictBothChanged, m.Host, zone, here, there), here, there)
	}
	return false, nil
}

// push writes zones to a member, in order, and accounts for the outcome:
// the changes made here, sent at once.
func (s *Service) push(ctx context.Context, m store.ClusterMember, set store.ClusterSettings, names []string, read *zoneReads) {
	c, err := s.client(m)
	if err != nil {
		s.failed(ctx, &m, set, err)
		return
	}
	agreed, err := s.st.ClusterAgreements(ctx, m.ID)
	if err != nil {
		s.log.Warn("list agreed zones", "err", err)
		return
	}
	for _, z := range names {
		if agreed[z].Yielded {
			continue
		}
		if a, ok := agreed[z]; ok && (m.Backend == BackendPoolctl || m.Backend == "") {
			// The member has serial a.Serial: its changes since then
			// (poolctl members; another backend takes whole zones).
			if d := read.since(ctx, z, a.Serial); d.err == nil {
				done, err := s.pushDeltas(ctx, m, c, z, d.z)
				if err == nil && done {
					s.succeeded(ctx, &m)
					continue
				}
				if err != nil {
					if s.failed(ctx, &m, set, fmt.Errorf("zone %s: %w", z, err)) {
						return
					}
					continue
				}
				// Not at that serial after all: the whole zone.
			}
		}
		rz := read.get(ctx, z)
		if _, err := s.pushRead(ctx, m, c, z, rz.z, rz.err, false); err != nil {
			if s.failed(ctx, &m, set, fmt.Errorf("zone %s: %w", z, err)) {
				return // disabled: no more operations
			}
			continue
		}
		s.succeeded(ctx, &m)
	}
}

// pushZone writes (or deletes) one zone on a member; ok reports a write.
// A refusal is a conflict (listed, not counted as a failure: the member
// answers, it only refuses to overwrite). takeover makes this server the
// zone's writer there (an operator's choice).
func (s *Service) pushZone(ctx context.Context, m store.ClusterMember, c Member, zone string, takeover bool) (bool, error) {
	rz, err := s.cfg.Zones.ReplicaZone(ctx, zone)
	return s.pushRead(ctx, m, c, zone, rz, err, takeover)
}

// replica is a zone as read for the members (or why it could not be).
type replica struct {
	z   api.ClusterZone
	err error
}

// zoneReads are the zones read for one push to every member: each whole zone,
// and its changes since a serial, read once however many members need
// them.
type zoneReads struct {
	s      *Service
	mu     sync.Mutex
	whole  map[string]replica
	deltas map[deltaKey]replica
}

type deltaKey struct {
	zone string
	from uint32
}

func newReads(s *Service) *zoneReads {
	return &zoneReads{s: s, whole: map[string]replica{}, deltas: map[deltaKey]replica{}}
}

func (r *zoneReads) get(ctx context.Context, zone string) replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	rz, ok := r.whole[zone]
	if !ok {
		rz.z, rz.err = r.s.cfg.Zones.ReplicaZone(ctx, zone)
		r.whole[zone] = rz
	}
	return rz
}

func (r *zoneReads) since(ctx context.Context, zone string, from uint32) replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := deltaKey{zone, from}
	rz, ok := r.deltas[k]
	if !ok {
		rz.z, rz.err = r.s.cfg.Zones.ReplicaDeltas(ctx, zone, from)
		r.deltas[k] = rz
	}
	return rz
}

// pushDeltas sends a zone's changes to a member that has their first
// serial. done is false when the member is at another serial (it answers
// 409): the caller sends the whole zone.
func (s *Service) pushDeltas(ctx context.Context, m store.ClusterMember, c Member, zone string, rz api.ClusterZone) (done bool, err error) {
	start := s.cfg.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := c.ClusterPutZone(rctx, zone, rz, client.ClusterPut{Role: m.Role})
	if isStatus(err, http.StatusConflict) || isStatus(err, http.StatusBadRequest) {
		// At another serial, or an older member that takes only whole
		// zones: the whole zone goes instead.
		s.logOp(ctx, m, "push", zone, rz.Serial, nil, start, "changes refused ("+errorText(err)+"): the whole zone goes instead")
		return false, nil
	}
	note := fmt.Sprintf("%d change(s)", len(rz.Deltas))
	if err == nil && !res.Changed {
		note = "unchanged"
	}
	s.logOp(ctx, m, "push", zone, rz.Serial, err, start, note)
	if err != nil {
		return false, err
	}
	if res.Changed {
		s.log.Info("zone changes written on member", "member", m.Host, "zone", zone, "serial", rz.Serial, "changes", len(rz.Deltas))
	}
	return true, s.st.SetClusterPushed(ctx, m.ID, zone, rz.Serial)
}

// pushRead is pushZone with the zone read already (err: as ReplicaZone
// returned it; NotFound: deleted here).
func (s *Service) pushRead(ctx context.Context, m store.ClusterMember, c Member, zone string, rz api.ClusterZone, err error, takeover bool) (bool, error) {
	put := client.ClusterPut{Role: m.Role, Takeover: takeover}
	start := s.cfg.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	switch {
	case errors.Is(err, apperr.NotFound):
		agreed, err := s.st.ClusterAgreements(ctx, m.ID)
		if err != nil {
			return false, err
		}
		a, had := agreed[zone]
		if !had {
			return false, nil
		}
		put.Seen = a.Serial
		err = c.ClusterDeleteZone(rctx, zone, put)
		if isStatus(err, http.StatusConflict) {
			s.recordConflict(ctx, m, c, zone, api.ConflictRefused, fmt.Sprintf("zone %s was deleted here but %s refused to delete it: %s", zone, m.Host, errorText(err)), side{}, side{})
			return false, nil
		}
		s.logOp(ctx, m, "delete", zone, 0, err, start, "")
		if err != nil {
			return false, err
		}
		s.log.Info("zone deleted on member", "member", m.Host, "zone", zone)
		return true, s.st.SetClusterPushed(ctx, m.ID, zone, 0)
	case err != nil:
		return false, err
	}
	res, err := c.ClusterPutZone(rctx, zone, rz, put)
	if isStatus(err, http.StatusConflict) {
		kind := api.ConflictRefused
		if m.Role == api.ClusterRoleSync {
			kind = api.ConflictBothChanged
		}
		s.recordConflict(ctx, m, c, zone, kind, fmt.Sprintf("zone %s (serial %d) was not written to %s: %s", zone, rz.Serial, m.Host, errorText(err)),
			side{rz.Serial, true}, side{})
		return false, nil
	}
	note := ""
	if err == nil && !res.Changed {
		note = "unchanged"
	}
	s.logOp(ctx, m, "push", zone, rz.Serial, err, start, note)
	if err != nil {
		return false, err
	}
	if res.Changed {
		s.log.Info("zone written on member", "member", m.Host, "zone", zone, "serial", rz.Serial)
	}
	return res.Changed, s.st.SetClusterPushed(ctx, m.ID, zone, rz.Serial)
}

// fetchZone takes a member's copy of a zone here.
func (s *Service) fetchZone(ctx context.Context, m store.ClusterMember, c Member, zone string) (bool, error) {
	start := s.cfg.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	rz, err := c.ClusterGetZone(rctx, zone)
	cancel()
	if isStatus(err, http.StatusNotFound) {
		return false, nil // gone meanwhile: the next reconcile sees it
	}
	if err != nil {
		s.logOp(ctx, m, "fetch", zone, 0, err, start, "")
		return false, err
	}
	res, err := s.cfg.Zones.ApplyReplica(ctx, zone, rz, zones.ReplicaSource{})
	if errors.Is(err, apperr.Conflict) {
		s.recordConflict(ctx, m, c, zone, api.ConflictBothChanged, fmt.Sprintf("zone %s from %s (serial %d) was not taken here: %s", zone, m.Host, rz.Serial, apperr.Message(err)),
			side{}, side{rz.Serial, true})
		return false, nil
	}
	s.logOp(ctx, m, "fetch", zone, rz.Serial, err, start, "")
	if err != nil {
		return false, fmt.Errorf("take the fetched zone here: %w", err)
	}
	if res.Changed {
		s.log.Info("zone fetched from member", "member", m.Host, "zone", zone, "serial", rz.Serial)
	}
	return res.Changed, s.st.SetClusterPushed(ctx, m.ID, zone, rz.Serial)
}

// logKeep is how many operations a member's log keeps.
const logKeep = 1000

// logOp records an operation in the member's log: every one with debug on,
// otherwise only changes and failures.
func (s *Service) logOp(ctx context.Context, m store.ClusterMember, op, zone string, serial uint32, err error, start time.Time, note string) {
	if err == nil && !m.Debug && (op == "hello" || note == "unchanged") {
		return
	}
	e := store.ClusterLogEntry{MemberID: m.ID, At: s.cfg.Now().UTC(), Op: op, Zone: zone, Serial: serial, OK: err == nil, Took: s.cfg.Now().Sub(start), Message: note}
	if err != nil {
		e.Message = errorText(err)
	}
	if lerr := s.st.AddClusterLog(ctx, e, logKeep); lerr != nil {
		s.log.Warn("DNS cluster log", "member", m.Host, "err", lerr)
	}
}

// Log returns a member's latest operations, newest first.
func (s *Service) Log(ctx context.Context, host string, limit int) ([]api.ClusterLogEntry, error) {
	if limit <= 0 || limit > logKeep {
		return nil, apperr.New(apperr.Invalid, "limit %d: want 1–%d", limit, logKeep)
	}
	m, err := s.st.GetClusterMember(ctx, host)
	if err != nil {
		return nil, err
	}
	es, err := s.st.ClusterLog(ctx, m.ID, limit)
	out := make([]api.ClusterLogEntry, 0, len(es))
	for _, e := range es {
		out = append(out, api.ClusterLogEntry{At: e.At, Op: e.Op, Zone: e.Zone, Serial: e.Serial, OK: e.OK, TookMS: e.Took.Milliseconds(), Message: e.Message})
	}
	return out, err
}
