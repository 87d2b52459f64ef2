package apiserver

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
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
