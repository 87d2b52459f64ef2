package web

import (
	"fmt"
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// rotateCredential asks for a new agent credential at the next heartbeat.
func (h *Handler) rotateCredential(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	if _, err := h.fl.RotateCredentials(r.Context(), pool, name); err != nil {
		return h.showMemberSettings(w, r, statusOf(err), nil, nil, err)
	}
	return h.redirect(w, r, memberURL(pool, name)+"/settings", "Credential rotation requested for "+name+": its agent takes the new one with its next heartbeat.")
}

// revokeCredential revokes the agent credential at once; the active member
// needs the force box ticked.
func (h *Handler) revokeCredential(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	if err := h.fl.RevokeCredential(r.Context(), pool, name, r.PostFormValue("force") == "1"); err != nil {
		return h.showMemberSettings(w, r, statusOf(err), nil, nil, err)
	}
	return h.redirect(w, r, memberURL(pool, name)+"/settings", "Agent credential of "+name+" revoked; enrol its agent again with a new secret.")
}

// updateAgent queues the update of the member's agent to the server's binary.
func (h *Handler) updateAgent(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	j, err := h.fl.UpdateAgent(r.Context(), pool, name, api.AgentUpdate{Force: r.PostFormValue("force") == "1"})
	if err != nil {
		return h.showMemberSettings(w, r, statusOf(err), nil, nil, err)
	}
	return h.redirect(w, r, fmt.Sprintf("%s/jobs/%d", memberURL(pool, name), j.ID), fmt.Sprintf("Agent update of %s queued (job %d): it restarts into the new binary and reports after its first heartbeat.", name, j.ID))
}

// startRollout updates the pool's agents one member at a time.
func (h *Handler) startRollout(w http.ResponseWriter, r *http.Request) error {
	pool := r.PathValue("pool")
	if _, err := h.fl.StartRollout(r.Context(), pool, api.AgentUpdate{}); err != nil {
		return h.showPoolSettings(w, r, statusOf(err), nil, err)
	}
	return h.redirect(w, r, "/pools/"+pool+"/settings", "Agent rollout started in "+pool+": one member at a time, the active member last.")
}

func (h *Handler) cancelRollout(w http.ResponseWriter, r *http.Request) error {
	pool := r.PathValue("pool")
	if _, err := h.fl.CancelRollout(r.Context(), pool); err != nil {
		return h.showPoolSettings(w, r, statusOf(err), nil, err)
	}
	return h.redirect(w, r, "/pools/"+pool+"/settings", "Agent rollout in "+pool+" cancelled after the member being updated.")
}
