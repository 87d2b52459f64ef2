package apiserver

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
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
	return z.ApplyReplica(r.Context(), r.PathValue("zone"), in)
}

func (s *Server) clusterDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	return nil, z.DeleteReplica(r.Context(), r.PathValue("zone"))
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
