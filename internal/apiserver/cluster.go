package apiserver

import (
	"net/http"
	"strconv"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/zones"
)

// The DNS cluster API another member calls with a token of scope cluster.

func (s *Server) clusterHello(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	zs, err := z.ReplicaSerials(r.Context())
	if err != nil {
		return nil, err
	}
	node := "server"
	if s.d.DNSOnly {
		node = "dns-node"
	}
	return api.ClusterHello{Version: s.d.Version, Node: node, Zones: zs}, nil
}

func (s *Server) clusterPut(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	var in api.ClusterZone
	if err := decode(w, r, maxZoneBody, &in); err != nil {
		return nil, err
	}
	takeover, err := boolParam(r, "takeover")
	if err != nil {
		return nil, err
	}
	if err := checkSenderRole(r); err != nil {
		return nil, err
	}
	return z.ApplyReplica(r.Context(), r.PathValue("zone"), in, zones.ReplicaSource{Writer: writerOf(r), Takeover: takeover})
}

func checkSenderRole(r *http.Request) error {
	switch role := r.URL.Query().Get("role"); role {
	case "", api.ClusterRoleWriteOnly, api.ClusterRoleSync:
		return nil
	default:
		return apperr.New(apperr.Invalid, "role=%q: a member writes here as sync or write-only", role)
	}
}

// writerOf is the sender of a cluster write when it owns the zones it
// writes here (a write-only sender: role absent or write-only); sync
// members all write, and name no writer.
func writerOf(r *http.Request) string {
	switch r.URL.Query().Get("role") {
	case "", api.ClusterRoleWriteOnly:
		return senderOf(r)
	}
	return ""
}

// clusterGet is a zone as this member serves it, for a member that
// fetches zones from here (sync and standalone roles).
func (s *Server) clusterGet(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	return z.ReplicaZone(r.Context(), r.PathValue("zone"))
}

func (s *Server) clusterDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	if err := checkSenderRole(r); err != nil {
		return nil, err
	}
	var seen uint64
	if v := r.URL.Query().Get("serial"); v != "" {
		if seen, err = strconv.ParseUint(v, 10, 32); err != nil {
			return nil, apperr.New(apperr.Invalid, "serial=%q: want the zone serial the sender last saw here", v)
		}
	}
	return nil, z.DeleteReplicaSeen(r.Context(), r.PathValue("zone"), writerOf(r), uint32(seen))
}

var errNoCluster = apperr.New(apperr.Unavailable, "the DNS cluster is not available on this server")

func (s *Server) cluster() (Cluster, error) {
	if s.d.Cluster == nil {
		return nil, errNoCluster
	}
	return s.d.Cluster, nil
}

func (s *Server) clusterSettings(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	return c.Settings(r.Context())
}

func (s *Server) updateClusterSettings(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	var in api.ClusterSettingsUpdate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return c.UpdateSettings(r.Context(), in)
}

func (s *Server) clusterMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	ms, err := c.Members(r.Context())
	return api.List[api.ClusterMember]{Items: ms}, err
}

func (s *Server) addClusterMember(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	var in api.ClusterMemberCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return c.AddMember(r.Context(), in)
}

func (s *Server) updateClusterMember(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	var in api.ClusterMemberUpdate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return c.UpdateMember(r.Context(), r.PathValue("host"), in)
}

func (s *Server) removeClusterMember(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	force, err := forceParam(r)
	if err != nil {
		return nil, err
	}
	return c.RemoveMember(r.Context(), r.PathValue("host"), force)
}

func (s *Server) enableClusterMember(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	return c.EnableMember(r.Context(), r.PathValue("host"))
}

func (s *Server) resyncCluster(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	return c.Resync(r.Context(), r.URL.Query().Get("host"))
}

func (s *Server) clusterLog(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			return nil, apperr.New(apperr.Invalid, "limit=%q: want a number of entries", v)
		}
	}
	es, err := c.Log(r.Context(), r.PathValue("host"), limit)
	return api.List[api.ClusterLogEntry]{Items: es}, err
}

func (s *Server) clusterConflicts(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	all, err := boolParam(r, "all")
	if err != nil {
		return nil, err
	}
	cs, err := c.Conflicts(r.Context(), all)
	return api.List[api.ClusterConflict]{Items: cs}, err
}

func conflictID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.Invalid, "conflict id %q: want the number `poolctl dns cluster conflicts` shows", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) clusterConflict(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	id, err := conflictID(r)
	if err != nil {
		return nil, err
	}
	return c.Conflict(r.Context(), id)
}

func (s *Server) resolveClusterConflict(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.cluster()
	if err != nil {
		return nil, err
	}
	id, err := conflictID(r)
	if err != nil {
		return nil, err
	}
	var in api.ClusterConflictResolve
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return c.Resolve(r.Context(), id, in)
}

// clusterPeer is the other side of reverse trust: only a poolctl server has
// members of its own.
func (s *Server) clusterPeer(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.d.Cluster == nil || s.d.DNSOnly {
		return nil, apperr.New(apperr.Unavailable, "this nameserver keeps no DNS cluster members of its own (a dns-node): reverse trust needs a poolctl server")
	}
	var in api.ClusterPeer
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Cluster.AddPeer(r.Context(), in)
}
