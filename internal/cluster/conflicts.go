package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Conflicts: a zone two sides changed is never overwritten silently. Both
// versions are kept in the store, the conflict is an event and stays
// listed until an operator chooses a side (Resolve), or until both sides
// agree again by themselves (it is then closed as converged).

// conflictText says what happened to a zone, for people.
func conflictText(kind, host, zone string, here, there side) string {
	switch kind {
	case api.ConflictBothChanged:
		return fmt.Sprintf("zone %s changed here (serial %d) and on %s (serial %d) since they last agreed; neither was overwritten", zone, here.serial, host, there.serial)
	case api.ConflictChangedThere:
		return fmt.Sprintf("zone %s was changed on %s (serial %d) by someone other than this server, which writes it there (serial %d here); not overwritten", zone, host, there.serial, here.serial)
	case api.ConflictDeletedThere:
		return fmt.Sprintf("zone %s was deleted on %s but changed here since (serial %d); kept here", zone, host, here.serial)
	case api.ConflictDeletedHere:
		return fmt.Sprintf("zone %s was deleted here but changed on %s since (serial %d); kept there", zone, host, there.serial)
	case api.ConflictFirstContact:
		return fmt.Sprintf("zone %s exists here (serial %d) and on %s (serial %d) with no common history; neither was overwritten", zone, here.serial, host, there.serial)
	}
	return fmt.Sprintf("zone %s: %s", zone, kind)
}

// versions reads both copies of a zone as zone files ("" where absent).
func (s *Service) versions(ctx context.Context, c Member, zone string) (local, remote string, err error) {
	lz, err := s.cfg.Zones.ReplicaZone(ctx, zone)
	switch {
	case err == nil:
		local = lz.Text
	case !errors.Is(err, apperr.NotFound):
		return "", "", err
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	rz, err := c.ClusterGetZone(rctx, zone)
	switch {
	case err == nil:
		remote = rz.Text
	case !isStatus(err, http.StatusNotFound):
		return "", "", err
	}
	return local, remote, nil
}

// recordConflict keeps both versions of a zone and reports the conflict
// once (a repeated detection refreshes the versions kept).
func (s *Service) recordConflict(ctx context.Context, m store.ClusterMember, c Member, zone, kind, msg string, here, there side) {
	local, remote, err := s.versions(ctx, c, zone)
	if err != nil {
		s.log.Warn("read both versions of a conflicting zone", "member", m.Host, "zone", zone, "err", err)
	}
	if here.serial == 0 {
		here.serial = serialOf(local)
	}
	if there.serial == 0 {
		there.serial = serialOf(remote)
	}
	cf := store.ClusterConflict{MemberID: m.ID, Zone: zone, Kind: kind, Message: msg, LocalSerial: here.serial, RemoteSerial: there.serial, LocalText: local, RemoteText: remote}
	created, err := s.st.OpenClusterConflict(ctx, &cf, s.cfg.Now())
	if err != nil {
		s.log.Warn("record DNS cluster conflict", "member", m.Host, "zone", zone, "err", err)
		return
	}
	s.logOp(ctx, m, "conflict", zone, here.serial, nil, s.cfg.Now(), msg)
	if !created {
		return
	}
	s.log.Warn("DNS cluster conflict", "member", m.Host, "zone", zone, "kind", kind, "msg", msg)
	s.cfg.Events.Emit(ctx, api.Event{Kind: KindConflict,
		Message: fmt.Sprintf("%s (conflict %d: `poolctl dns cluster conflicts`, then `poolctl dns cluster resolve %d --keep local|remote`)", msg, cf.ID, cf.ID),
		Data:    mustJSON(map[string]any{"member": m.Host, "zone": zone, "kind": kind, "conflict": cf.ID, "local_serial": here.serial, "remote_serial": there.serial})})
}

// serialOf is the SOA serial of a zone file as ReplicaZone writes it (0
// when there is none).
func serialOf(text string) uint32 {
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		for i, w := range f {
			if strings.EqualFold(w, "SOA") && i+3 < len(f) {
				n, err := strconv.ParseUint(f[i+3], 10, 32)
				if err == nil {
					return uint32(n)
				}
			}
		}
	}
	return 0
}

func (s *Service) openConflicts(ctx context.Context, memberID int64) (map[string]bool, error) {
	cs, err := s.st.ListClusterConflicts(ctx, true)
	out := map[string]bool{}
	for _, c := range cs {
		if c.MemberID == memberID {
			out[c.Zone] = true
		}
	}
	return out, err
}

func conflictAPI(c store.ClusterConflict, texts bool) api.ClusterConflict {
	out := api.ClusterConflict{ID: c.ID, Member: c.Host, Zone: c.Zone, Kind: c.Kind, Message: c.Message, LocalSerial: c.LocalSerial,
		RemoteSerial: c.RemoteSerial, DetectedAt: c.DetectedAt, ResolvedAt: c.ResolvedAt, Resolution: c.Resolution}
	if texts {
		out.LocalText, out.RemoteText = c.LocalText, c.RemoteText
	}
	return out
}

// Conflicts lists the conflicts, open ones only unless all.
func (s *Service) Conflicts(ctx context.Context, all bool) ([]api.ClusterConflict, error) {
	cs, err := s.st.ListClusterConflicts(ctx, !all)
	out := make([]api.ClusterConflict, 0, len(cs))
	for _, c := range cs {
		out = append(out, conflictAPI(c, false))
	}
	return out, err
}

// Conflict returns one conflict with both versions.
func (s *Service) Conflict(ctx context.Context, id int64) (api.ClusterConflict, error) {
	c, err := s.st.GetClusterConflict(ctx, id)
	if err != nil {
		return api.ClusterConflict{}, err
	}
	return conflictAPI(c, true), nil
}

// Resolve ends a conflict with the side an operator chose. Keep local:
// this server's version (or its absence) goes to the member, with a
// serial above both, taking the zone over there. Keep remote: the
// member's version (or its absence) is taken here with a serial above
// both, so it reaches every member; a zone another server writes there
// (refused) is yielded instead: this server stops writing it there.
func (s *Service) Resolve(ctx context.Context, id int64, in api.ClusterConflictResolve) (api.ClusterConflict, error) {
	if in.Keep != "local" && in.Keep != "remote" {
		return api.ClusterConflict{}, apperr.New(apperr.Invalid, "keep %q: want local (this server's version) or remote (the member's)", in.Keep)
	}
	cf, err := s.st.GetClusterConflict(ctx, id)
	if err != nil {
		return api.ClusterConflict{}, err
	}
	if cf.ResolvedAt != nil {
		return api.ClusterConflict{}, apperr.New(apperr.Conflict, "conflict %d was resolved already (%s)", id, cf.Resolution)
	}
	m, err := s.st.GetClusterMember(ctx, cf.Host)
	if err != nil {
		return api.ClusterConflict{}, err
	}
	c, err := s.client(m)
	if err != nil {
		return api.ClusterConflict{}, apperr.New(apperr.Unavailable, "cannot reach %s to resolve the conflict: %v", m.Host, err)
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	// The versions as they are now, not as first seen.
	local, remote, err := s.versions(ctx, c, cf.Zone)
	if err != nil {
		return api.ClusterConflict{}, apperr.New(apperr.Unavailable, "read both versions of zone %s: %v", cf.Zone, err)
	}
	above := max(serialOf(local), serialOf(remote))
	resolution := "kept " + in.Keep
	switch {
	case in.Keep == "local" && local == "":
		if remote != "" {
			if err := c.ClusterDeleteZone(ctx, cf.Zone, client.ClusterPut{Role: m.Role, Takeover: true}); err != nil {
				return api.ClusterConflict{}, fmt.Errorf("delete zone %s on %s: %w", cf.Zone, m.Host, err)
			}
		}
		err = s.st.SetClusterPushed(ctx, m.ID, cf.Zone, 0)
	case in.Keep == "local":
		if _, err := s.cfg.Zones.AdoptZone(ctx, cf.Zone, local, above); err != nil {
			return api.ClusterConflict{}, err
		}
		if err := s.st.SetClusterYielded(ctx, m.ID, cf.Zone, 0, false); err != nil {
			return api.ClusterConflict{}, err
		}
		if m.Role == api.ClusterRoleStandalone {
			break // never written there: ours stays here
		}
		if _, err := s.pushZone(ctx, m, c, cf.Zone, true); err != nil {
			return api.ClusterConflict{}, fmt.Errorf("write zone %s on %s: %w", cf.Zone, m.Host, err)
		}
	case cf.Kind == api.ConflictRefused:
		resolution = "yielded to the other writer"
		err = s.st.SetClusterYielded(ctx, m.ID, cf.Zone, serialOf(remote), true)
	case remote == "":
		if local != "" {
			if err := s.cfg.Zones.DeleteReplica(ctx, cf.Zone, ""); err != nil {
				return api.ClusterConflict{}, err
			}
		}
		err = s.st.SetClusterPushed(ctx, m.ID, cf.Zone, 0)
	default:
		if _, err := s.cfg.Zones.AdoptZone(ctx, cf.Zone, remote, above); err != nil {
			return api.ClusterConflict{}, err
		}
		// Ours is now theirs with a newer serial: it goes there too (the
		// change was made here and is pushed at once to write members).
		if m.Role == api.ClusterRoleStandalone {
			err = s.st.SetClusterPushed(ctx, m.ID, cf.Zone, serialOf(remote))
		} else {
			_, err = s.pushZone(ctx, m, c, cf.Zone, true)
		}
	}
	if err != nil {
		return api.ClusterConflict{}, err
	}
	if _, err := s.st.ResolveClusterConflicts(ctx, m.ID, cf.Zone, resolution, s.cfg.Now()); err != nil {
		return api.ClusterConflict{}, err
	}
	s.cfg.Events.Emit(ctx, api.Event{Kind: "dns.cluster_conflict_resolved", Message: fmt.Sprintf("DNS cluster conflict %d on zone %s with %s resolved: %s", id, cf.Zone, m.Host, resolution)})
	return s.Conflict(ctx, id)
}
