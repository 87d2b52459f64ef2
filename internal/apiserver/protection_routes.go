package apiserver

import (
	"net/http"
	"regexp"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

var errNoProtections = apperr.New(apperr.Unavailable, "account protection is not available on this server")

// accountName is the syntax of hosting account names (the service checks
// it too; checking it here refuses bad paths before any work).
var accountName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// maxRuns bounds ?limit= of a protection's run list.
const maxRuns = 1000

// protections returns the protection service, or Unavailable when this
// server does not run it.
func (s *Server) protections() (Protections, error) {
	if s.d.Protections == nil {
		return nil, errNoProtections
	}
	return s.d.Protections, nil
}

// pathAccount returns the {account} path value when it is a valid name.
func pathAccount(r *http.Request) (string, error) {
	a := r.PathValue("account")
	if !accountName.MatchString(a) {
		return "", apperr.New(apperr.Invalid, "account name %q is invalid: want a lower-case letter, then up to 31 of a-z 0-9 _ -", a)
	}
	return a, nil
}

// queryBool reads an optional true/false query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, apperr.New(apperr.Invalid, "query parameter %s=%q: want true or false", name, v)
	}
}

// protectionArgs returns the service and the {account} of a protection route.
func (s *Server) protectionArgs(r *http.Request) (Protections, string, error) {
	p, err := s.protections()
	if err != nil {
		return nil, "", err
	}
	account, err := pathAccount(r)
	if err != nil {
		return nil, "", err
	}
	return p, account, nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	refresh, err := queryBool(r, "refresh")
	if err != nil {
		return nil, err
	}
	out, err := p.Accounts(r.Context(), r.PathValue("pool"), r.PathValue("member"), refresh)
	if err != nil {
		return nil, err
	}
	out.Items = nonNil(out.Items)
	return out, nil
}

func (s *Server) cutDNS(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	var in api.DNSCut
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	out, err := p.CutDNS(r.Context(), r.PathValue("pool"), account, in)
	if err != nil {
		return nil, err
	}
	out.Changes = nonNil(out.Changes)
	return out, nil
}

func (s *Server) listProtections(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	ps, err := p.ListProtections(r.Context(), r.URL.Query().Get("pool"))
	return api.List[api.Protection]{Items: nonNil(ps)}, err
}

func (s *Server) createProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	var in api.ProtectionCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return p.CreateProtection(r.Context(), r.PathValue("pool"), in)
}

func (s *Server) getProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	return p.GetProtection(r.Context(), r.PathValue("pool"), account)
}

func (s *Server) updateProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	var in api.ProtectionUpdate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return p.UpdateProtection(r.Context(), r.PathValue("pool"), account, in)
}

func (s *Server) deleteProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	return nil, p.DeleteProtection(r.Context(), r.PathValue("pool"), account)
}

func (s *Server) pauseProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.setPaused(r, true)
}

func (s *Server) resumeProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.setPaused(r, false)
}

func (s *Server) setPaused(r *http.Request, paused bool) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	return p.SetPaused(r.Context(), r.PathValue("pool"), account, paused)
}

func (s *Server) runProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	return p.RunNow(r.Context(), r.PathValue("pool"), account)
}

func (s *Server) reverseProtection(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	return p.Reverse(r.Context(), r.PathValue("pool"), account)
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) (any, error) {
	p, account, err := s.protectionArgs(r)
	if err != nil {
		return nil, err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return nil, err
	}
	if limit > maxRuns {
		return nil, apperr.New(apperr.Invalid, "query parameter limit=%d: want at most %d", limit, maxRuns)
	}
	runs, err := p.Runs(r.Context(), r.PathValue("pool"), account, int(limit))
	return api.List[api.Run]{Items: nonNil(runs)}, err
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return p.Run(r.Context(), id)
}

func (s *Server) confirmRun(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.decideRun(r, true)
}

func (s *Server) rejectRun(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.decideRun(r, false)
}

func (s *Server) decideRun(r *http.Request, confirm bool) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if confirm {
		return p.ConfirmRun(r.Context(), id)
	}
	return p.RejectRun(r.Context(), id)
}

func (s *Server) runLog(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	after, err := queryInt(r, "after")
	if err != nil {
		return nil, err
	}
	wait, err := queryDuration(r, "wait", time.Minute)
	if err != nil {
		return nil, err
	}
	lines, err := p.RunLog(r.Context(), id, after, wait)
	if err != nil {
		return nil, err
	}
	out := api.List[api.RunLogLine]{Items: nonNil(lines), NextAfter: after}
	if n := len(lines); n > 0 {
		out.NextAfter = lines[n-1].Seq
	}
	return out, nil
}
