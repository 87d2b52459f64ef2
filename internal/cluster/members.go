package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func settingsAPI(c store.ClusterSettings) api.ClusterSettings {
	return api.ClusterSettings{Enabled: c.Enabled, FailureThreshold: c.FailureThreshold}
}

// Settings returns the cluster's switch and threshold.
func (s *Service) Settings(ctx context.Context) (api.ClusterSettings, error) {
	c, err := s.st.GetClusterSettings(ctx)
	return settingsAPI(c), err
}

// UpdateSettings switches the cluster on or off and sets the threshold.
// Switching it on reconciles every member at once.
func (s *Service) UpdateSettings(ctx context.Context, in api.ClusterSettingsUpdate) (api.ClusterSettings, error) {
	c, err := s.st.GetClusterSettings(ctx)
	if err != nil {
		return api.ClusterSettings{}, err
	}
	was := c.Enabled
	if in.FailureThreshold != nil {
		if *in.FailureThreshold < 0 || *in.FailureThreshold > 1000 {
			return api.ClusterSettings{}, apperr.New(apperr.Invalid, "failure_threshold %d: want 1–1000 consecutive failures, or 0 to keep every member online", *in.FailureThreshold)
		}
		c.FailureThreshold = *in.FailureThreshold
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if err := s.st.SaveClusterSettings(ctx, c, s.cfg.Now()); err != nil {
		return api.ClusterSettings{}, err
	}
	if c.Enabled != was {
		state := "disabled: no zone is sent to its members"
		if c.Enabled {
			state = "enabled"
			go s.reconcileAll(context.WithoutCancel(ctx), false)
		}
		s.cfg.Events.Emit(ctx, api.Event{Kind: "dns.cluster_changed", Message: "DNS cluster " + state})
	}
	return settingsAPI(c), nil
}

// memberView is what every member's row is computed against, read once
// for a whole member list: this server's zones and the open conflicts.
type memberView struct {
	local     []api.Zone
	conflicts map[int64]int // open conflicts per member ID
}

func (s *Service) memberView(ctx context.Context) (memberView, error) {
	local, err := s.cfg.Zones.List(ctx)
	if err != nil {
		return memberView{}, err
	}
	cs, err := s.st.ListClusterConflicts(ctx, true)
	v := memberView{local: local, conflicts: map[int64]int{}}
	for _, c := range cs {
		v.conflicts[c.MemberID]++
	}
	return v, err
}

// memberAPI is one member as the API shows it.
func (s *Service) memberAPI(ctx context.Context, m store.ClusterMember) (api.ClusterMember, error) {
	v, err := s.memberView(ctx)
	if err != nil {
		return api.ClusterMember{}, err
	}
	return s.memberRow(ctx, m, v)
}

func (s *Service) memberRow(ctx context.Context, m store.ClusterMember, v memberView) (api.ClusterMember, error) {
	out := api.ClusterMember{Host: m.Host, URL: m.URL, Role: m.Role, Backend: m.Backend, Version: m.RemoteVersion, Node: m.RemoteNode,
		Status: api.ClusterMemberOK, Failures: m.Failures, LastError: m.LastError, LastOKAt: m.LastOKAt, DisabledAt: m.DisabledAt, Debug: m.Debug,
		Conflicts: v.conflicts[m.ID], CreatedAt: m.CreatedAt}
	switch {
	case m.DisabledAt != nil:
		out.Status = api.ClusterMemberDisabled
	case m.Failures > 0:
		out.Status = api.ClusterMemberFailing
	}
	agreed, err := s.st.ClusterAgreements(ctx, m.ID)
	if err != nil {
		return out, err
	}
	out.Zones = len(agreed)
	if writes(m.Role) {
		for _, z := range v.local {
			if a, ok := agreed[z.Name]; !a.Yielded && (!ok || a.Serial != z.Serial) {
				out.Lag++
			}
		}
	}
	return out, nil
}

// Members lists the cluster's members.
func (s *Service) Members(ctx context.Context) ([]api.ClusterMember, error) {
	ms, err := s.st.ListClusterMembers(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.memberView(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.ClusterMember, 0, len(ms))
	for _, m := range ms {
		a, err := s.memberRow(ctx, m, v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// hello checks that a member answers the cluster API with its token, and
// says exactly what failed otherwise.
func (s *Service) hello(ctx context.Context, m store.ClusterMember) (api.ClusterHello, error) {
	c, err := s.client(m)
	if err != nil {
		return api.ClusterHello{}, apperr.New(apperr.Invalid, "%s: %v", m.Host, err)
	}
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	h, err := c.ClusterHello(hctx)
	var ce *client.Error
	switch {
	case err == nil:
		return h, nil
	case errors.As(err, &ce) && (ce.Status == http.StatusUnauthorized || ce.Status == http.StatusForbidden):
		return h, apperr.New(apperr.Invalid, "%s refused the token: %s (make one there with `poolctl token create NAME --scope cluster`)", m.Host, ce.Message)
	case errors.Is(err, apperr.Unauthorized) || errors.Is(err, apperr.Forbidden):
		return h, apperr.New(apperr.Invalid, "%s refused the token: %s", m.Host, apperr.Message(err))
	case errors.Is(err, apperr.Invalid):
		return h, apperr.New(apperr.Invalid, "%s: %s", m.Host, apperr.Message(err))
	case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
		return h, apperr.New(apperr.Invalid, "%s at %s does not answer the DNS cluster API (%s): is it a poolctl server or dns-node of this version?", m.Host, m.URL, ce.Message)
	default:
		return h, apperr.New(apperr.Unavailable, "cannot reach %s at %s: %v", m.Host, m.URL, err)
	}
}

// AddMember adds a member after checking its address, certificate, token
// and version; nothing is saved when a check fails.
func (s *Service) AddMember(ctx context.Context, in api.ClusterMemberCreate) (api.ClusterMember, error) {
	if err := checkMember(&in); err != nil {
		return api.ClusterMember{}, err
	}
	if _, ok := s.cfg.Backends[in.Backend]; !ok && in.Backend != BackendPoolctl {
		names := []string{BackendPoolctl}
		for b := range s.cfg.Backends {
			names = append(names, b)
		}
		slices.Sort(names)
		return api.ClusterMember{}, apperr.New(apperr.Invalid, "backend %q: want %s", in.Backend, strings.Join(names, " or "))
	}
	if _, err := s.st.GetClusterMember(ctx, in.Host); err == nil {
		return api.ClusterMember{}, apperr.New(apperr.Conflict, "DNS cluster member %s exists already (two members cannot share a host name)", in.Host)
	}
	sealed, err := s.seal(in.Host, in.Token)
	if err != nil {
		return api.ClusterMember{}, err
	}
	m := store.ClusterMember{Host: in.Host, URL: strings.TrimRight(in.URL, "/"), TokenSealed: sealed, CAPEM: in.CA, Role: in.Role, Backend: in.Backend, Debug: in.Debug}
	h, err := s.hello(ctx, m)
	if err != nil {
		return api.ClusterMember{}, err
	}
	m.RemoteVersion, m.RemoteNode = h.Version, h.Node
	var undo func()
	if in.ReverseTrust != nil {
		if undo, err = s.reverseTrust(ctx, m, h, *in.ReverseTrust); err != nil {
			return api.ClusterMember{}, err
		}
	}
	if err := s.st.CreateClusterMember(ctx, &m, s.cfg.Now()); err != nil {
		if undo != nil {
			undo()
		}
		return api.ClusterMember{}, err
	}
	msg := fmt.Sprintf("DNS cluster member %s (%s, %s %s) added as %s", m.Host, m.URL, h.Node, h.Version, m.Role)
	if in.ReverseTrust != nil {
		msg += fmt.Sprintf("; it knows this server as %s (standalone: it fetches this server's zones)", in.ReverseTrust.Host)
	}
	s.cfg.Events.Emit(ctx, api.Event{Kind: KindMemberAdded, Message: msg})
	go s.reconcileAll(context.WithoutCancel(ctx), false)
	return s.memberAPI(ctx, m)
}

// UpdateMember changes a member in place: its role, debug log, and the
// URL, token or CA it is reached with (checked against it before saving).
func (s *Service) UpdateMember(ctx context.Context, host string, in api.ClusterMemberUpdate) (api.ClusterMember, error) {
	m, err := s.st.GetClusterMember(ctx, host)
	if err != nil {
		return api.ClusterMember{}, err
	}
	if in.Role != nil {
		if err := checkRole(*in.Role); err != nil {
			return api.ClusterMember{}, err
		}
		m.Role = *in.Role
	}
	if in.Debug != nil {
		m.Debug = *in.Debug
	}
	reach := in.URL != nil || in.Token != nil || in.CA != nil
	if in.URL != nil {
		if err := checkURL(*in.URL); err != nil {
			return api.ClusterMember{}, err
		}
		m.URL = strings.TrimRight(*in.URL, "/")
	}
	if in.Token != nil {
		if strings.TrimSpace(*in.Token) == "" {
			return api.ClusterMember{}, apperr.New(apperr.Invalid, "token must not be empty")
		}
		if m.TokenSealed, err = s.seal(m.Host, *in.Token); err != nil {
			return api.ClusterMember{}, err
		}
	}
	if in.CA != nil {
		if err := checkCA(*in.CA); err != nil {
			return api.ClusterMember{}, err
		}
		m.CAPEM = *in.CA
	}
	if reach {
		h, err := s.hello(ctx, m)
		if err != nil {
			return api.ClusterMember{}, err
		}
		m.RemoteVersion, m.RemoteNode = h.Version, h.Node
	}
	if err := s.st.UpdateClusterMember(ctx, &m, s.cfg.Now()); err != nil {
		return api.ClusterMember{}, err
	}
	if in.Role != nil || reach {
		go s.reconcileAll(context.WithoutCancel(ctx), false)
	}
	return s.memberAPI(ctx, m)
}

// RemoveMember stops writing to a member. The zones that exist only there
// (not on this server) leave the cluster with it: they are listed, and
// their existence (or an unreachable member, where nobody can tell) needs
// force.
func (s *Service) RemoveMember(ctx context.Context, host string, force bool) (api.ClusterMemberRemoved, error) {
	m, err := s.st.GetClusterMember(ctx, host)
	if err != nil {
		return api.ClusterMemberRemoved{}, err
	}
	out := api.ClusterMemberRemoved{Host: host, LoneZones: []string{}}
	h, herr := s.hello(ctx, m)
	if herr == nil {
		local, err := s.cfg.Zones.List(ctx)
		if err != nil {
			return out, err
		}
		here := map[string]bool{}
		for _, z := range local {
			here[z.Name] = true
		}
		for _, z := range h.Zones {
			if !here[z.Zone] {
				out.LoneZones = append(out.LoneZones, z.Zone)
			}
		}
		slices.Sort(out.LoneZones)
	}
	if !force {
		switch {
		case herr != nil:
			return out, apperr.New(apperr.Conflict, "cannot tell which zones exist only on %s (%s); --force removes it anyway", host, apperr.Message(herr))
		case len(out.LoneZones) > 0:
			return out, apperr.New(apperr.Conflict, "zones %s exist only on %s and leave the cluster with it; repeat with --force to remove it anyway",
				strings.Join(out.LoneZones, ", "), host)
		}
	}
	if err := s.st.DeleteClusterMember(ctx, m.ID); err != nil {
		return out, err
	}
	msg := fmt.Sprintf("DNS cluster member %s removed: no zone is sent to it any more", host)
	if len(out.LoneZones) > 0 {
		msg += "; zones only there: " + strings.Join(out.LoneZones, ", ")
	}
	s.cfg.Events.Emit(ctx, api.Event{Kind: KindMemberRemoved, Message: msg, Data: mustJSON(out)})
	return out, nil
}

// EnableMember puts a disabled member back and resynchronises it.
func (s *Service) EnableMember(ctx context.Context, host string) (api.ClusterMember, error) {
	m, err := s.st.GetClusterMember(ctx, host)
	if err != nil {
		return api.ClusterMember{}, err
	}
	m.DisabledAt, m.Failures, m.LastError = nil, 0, ""
	if err := s.st.UpdateClusterMember(ctx, &m, s.cfg.Now()); err != nil {
		return api.ClusterMember{}, err
	}
	s.cfg.Events.Emit(ctx, api.Event{Kind: KindMemberEnabled, Message: fmt.Sprintf("DNS cluster member %s enabled again; resynchronising it", host),
		Data: mustJSON(map[string]any{"member": host})})
	if _, err := s.Resync(ctx, host); err != nil {
		return api.ClusterMember{}, err
	}
	m, err = s.st.GetClusterMember(ctx, host)
	if err != nil {
		return api.ClusterMember{}, err
	}
	return s.memberAPI(ctx, m)
}

// Resync compares one member (host) or all ("") with this server at once:
// every zone is sent again to the members this server writes to (and
// deleted there when deleted here), and what changed on the members it
// reads from is fetched.
func (s *Service) Resync(ctx context.Context, host string) (api.ClusterResync, error) {
	set, err := s.st.GetClusterSettings(ctx)
	if err != nil {
		return api.ClusterResync{}, err
	}
	if !set.Enabled {
		return api.ClusterResync{}, apperr.New(apperr.Conflict, "the DNS cluster is disabled; enable it with `poolctl dns cluster enable`")
	}
	ms, err := s.st.ListClusterMembers(ctx)
	if err != nil {
		return api.ClusterResync{}, err
	}
	out := api.ClusterResync{Members: []string{}}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	found := false
	for _, m := range ms {
		if host != "" && m.Host != host {
			continue
		}
		found = true
		if m.DisabledAt != nil {
			continue
		}
		out.Zones += s.reconcile(ctx, m, set, true)
		out.Members = append(out.Members, m.Host)
	}
	if host != "" && !found {
		return out, apperr.New(apperr.NotFound, "no DNS cluster member %s", host)
	}
	return out, nil
}

// reverseTrust makes a cluster token here for the member and asks the
// member to add this server with it, in the standalone role. undo revokes
// the token (the member was not saved here after all).
func (s *Service) reverseTrust(ctx context.Context, m store.ClusterMember, h api.ClusterHello, self api.ClusterReverseTrust) (undo func(), err error) {
	if s.cfg.Tokens == nil {
		return nil, apperr.New(apperr.Unavailable, "reverse trust is not available on this server")
	}
	if m.Backend != BackendPoolctl || h.Node != "server" {
		return nil, apperr.New(apperr.Invalid, "reverse trust needs a poolctl server as the member: %s is a %s %s, which keeps no cluster members of its own", m.Host, m.Backend, orDash(h.Node))
	}
	self.Host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(self.Host), "."))
	if !hostRE.MatchString(self.Host) {
		return nil, apperr.New(apperr.Invalid, "reverse trust host %q: want this server's name as %s should know it, e.g. ns1.example.net", self.Host, m.Host)
	}
	if err := checkURL(self.URL); err != nil {
		return nil, apperr.New(apperr.Invalid, "reverse trust %s", apperr.Message(err))
	}
	tok, err := s.cfg.Tokens.CreateToken(ctx, api.TokenCreate{Name: "dns cluster: " + m.Host, Scope: "cluster"})
	if err != nil {
		return nil, err
	}
	undo = func() {
		if err := s.cfg.Tokens.RevokeToken(context.WithoutCancel(ctx), tok.Token.ID); err != nil {
			s.log.Warn("revoke the reverse-trust token", "member", m.Host, "err", err)
		}
	}
	c, err := s.client(m)
	pc, ok := c.(*client.Client)
	if err == nil && !ok {
		err = fmt.Errorf("%s is not reached through the cluster API", m.Host)
	}
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		_, err = pc.ClusterPeer(rctx, api.ClusterPeer{Host: self.Host, URL: strings.TrimRight(self.URL, "/"), Token: tok.Secret, CA: string(s.cfg.CAPEM), Role: api.ClusterRoleStandalone})
		cancel()
	}
	if err != nil {
		undo()
		return nil, apperr.New(apperr.Invalid, "%s could not add this server (reverse trust): %s", m.Host, errorText(err))
	}
	return undo, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// AddPeer is the other side of reverse trust: a member that was added
// somewhere asks this server to know it, and is added here (its address,
// certificate and token checked as for any member).
func (s *Service) AddPeer(ctx context.Context, in api.ClusterPeer) (api.ClusterMember, error) {
	return s.AddMember(ctx, api.ClusterMemberCreate{Host: in.Host, URL: in.URL, Token: in.Token, CA: in.CA, Role: in.Role, Backend: BackendPoolctl})
}
