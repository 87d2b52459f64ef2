package apiserver

import (
	"net/http"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

type healthReply struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	Database string `json:"database"`
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) (any, error) {
	out := healthReply{Status: "ok", Version: s.d.Version, Database: "ok"}
	if err := s.d.Fleet.Store().Ping(r.Context()); err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "database unreachable")
	}
	return out, nil
}

func (s *Server) listPools(w http.ResponseWriter, r *http.Request) (any, error) {
	ps, err := s.d.Fleet.Pools(r.Context())
	return api.List[api.Pool]{Items: nonNil(ps)}, err
}

func (s *Server) createPool(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.PoolCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.CreatePool(r.Context(), in)
}

func (s *Server) getPool(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.d.Fleet.Pool(r.Context(), r.PathValue("pool"))
}

func (s *Server) updatePool(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.PoolUpdate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.UpdatePool(r.Context(), r.PathValue("pool"), in)
}

func (s *Server) deletePool(w http.ResponseWriter, r *http.Request) (any, error) {
	force, err := forceParam(r)
	if err != nil {
		return nil, err
	}
	res, err := s.d.Fleet.DeletePool(r.Context(), r.PathValue("pool"), force)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Server) ackBanner(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.d.Fleet.AckBanner(r.Context(), r.PathValue("pool"), "api")
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	ms, err := s.d.Fleet.Members(r.Context(), r.PathValue("pool"))
	return api.List[api.Member]{Items: nonNil(ms)}, err
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.MemberCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	added, err := s.d.Fleet.AddMember(r.Context(), r.PathValue("pool"), in)
	return s.withInstallCommand(r, added, err)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.d.Fleet.Member(r.Context(), r.PathValue("pool"), r.PathValue("member"))
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.MemberUpdate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.UpdateMember(r.Context(), r.PathValue("pool"), r.PathValue("member"), in)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) (any, error) {
	force, err := forceParam(r)
	if err != nil {
		return nil, err
	}
	return nil, s.d.Fleet.RemoveMember(r.Context(), r.PathValue("pool"), r.PathValue("member"), force)
}

// forceParam reads ?force=true|false.
func forceParam(r *http.Request) (bool, error) { return boolParam(r, "force") }

// boolParam reads a query parameter that is true, false or absent.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v != "" && v != "true" && v != "false" {
		return false, apperr.New(apperr.Invalid, "%s=%q: want true or false", name, v)
	}
	return v == "true", nil
}

func (s *Server) newSecret(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.SecretCreate
	if err := decodeOptional(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	added, err := s.d.Fleet.NewSecret(r.Context(), r.PathValue("pool"), r.PathValue("member"), in.TTL.D())
	return s.withInstallCommand(r, added, err)
}

func (s *Server) makeActive(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.MakeActive
	if err := decodeOptional(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	if s.d.Failover == nil {
		return nil, apperr.New(apperr.Unavailable, "the failover engine is not running on this server")
	}
	return s.d.Failover.MakeActive(r.Context(), r.PathValue("pool"), r.PathValue("member"), in.Force)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	after, err := queryInt(r, "after")
	if err != nil {
		return nil, err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return nil, err
	}
	wait, err := queryDuration(r, "wait", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	f := store.EventFilter{Pool: q.Get("pool"), Member: q.Get("member"), Kind: q.Get("kind"), After: after, Limit: int(limit)}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			d, derr := time.ParseDuration(v)
			if derr != nil || d <= 0 {
				return nil, apperr.New(apperr.Invalid, "since=%q: want an RFC 3339 time or a duration like 1h", v)
			}
			t = time.Now().Add(-d)
		}
		f.Since = t
	}
	// Without a cursor, show the newest events (still oldest first).
	f.Newest = after == 0 && f.Since.IsZero()
	evs, err := s.d.Fleet.Events(r.Context(), f, wait)
	if err != nil {
		return nil, err
	}
	out := api.List[api.Event]{Items: nonNil(evs)}
	if n := len(evs); n > 0 {
		out.NextAfter = evs[n-1].ID
	} else {
		out.NextAfter = after
	}
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
