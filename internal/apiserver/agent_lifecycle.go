package apiserver

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// rotateCredential asks for a new agent credential for one member, or for
// every enrolled member of the pool when the route names none.
func (s *Server) rotateCredential(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.d.Fleet.RotateCredentials(r.Context(), r.PathValue("pool"), r.PathValue("member"))
}

func (s *Server) revokeCredential(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.CredentialRevoke
	if err := decodeOptional(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return nil, s.d.Fleet.RevokeCredential(r.Context(), r.PathValue("pool"), r.PathValue("member"), in.Force)
}

// updateAgent queues the update of a member's agent to the offered binary.
func (s *Server) updateAgent(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.AgentUpdate
	if err := decodeOptional(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.UpdateAgent(r.Context(), r.PathValue("pool"), r.PathValue("member"), in)
}

func (s *Server) startRollout(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.AgentUpdate
	if err := decodeOptional(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.StartRollout(r.Context(), r.PathValue("pool"), in)
}

func (s *Server) rollout(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.d.Fleet.Rollout(r.Context(), r.PathValue("pool"))
}

func (s *Server) cancelRollout(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.d.Fleet.CancelRollout(r.Context(), r.PathValue("pool"))
}
