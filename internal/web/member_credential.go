package web

import "net/http"

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
