package apiserver

import (
	"context"
	"net/http"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Links is linked nodes (internal/links) as the API needs it.
type Links interface {
	SetProfile(ctx context.Context, pool, member string, in api.ProfileSet) (api.Member, error)
	Links(ctx context.Context, pool string) ([]api.Link, error) // pool "" lists all
	AddLink(ctx context.Context, pool string, in api.LinkCreate) (api.Link, error)
	// RemoveLink removes a child's link; Conflict while accounts are distributed to it.
	RemoveLink(ctx context.Context, pool, child string) error
	DistributedAccounts(ctx context.Context, pool, child string) ([]api.DistributedAccount, error)
	Distribute(ctx context.Context, pool, member, account string, in api.Distribute) (api.DistributionRun, error)
	Dedistribute(ctx context.Context, pool, member, account string, in api.Dedistribute) (api.DistributionRun, error)
	Runs(ctx context.Context, pool, account string, limit int) ([]api.DistributionRun, error)
	Run(ctx context.Context, id int64) (api.DistributionRun, error)
	RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error)
}

var errNoLinks = apperr.New(apperr.Unavailable, "linked nodes are not available on this server")

func (s *Server) links() (Links, error) {
	if s.d.Links == nil {
		return nil, errNoLinks
	}
	return s.d.Links, nil
}

func (s *Server) setProfile(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	var in api.ProfileSet
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return l.SetProfile(r.Context(), r.PathValue("pool"), r.PathValue("member"), in)
}

func (s *Server) listLinks(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	ls, err := l.Links(r.Context(), r.URL.Query().Get("pool"))
	if err != nil {
		return nil, err
	}
	return api.List[api.Link]{Items: nonNil(ls)}, nil
}

func (s *Server) listPoolLinks(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	ls, err := l.Links(r.Context(), r.PathValue("pool"))
	if err != nil {
		return nil, err
	}
	return api.List[api.Link]{Items: nonNil(ls)}, nil
}

func (s *Server) addLink(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	var in api.LinkCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return l.AddLink(r.Context(), r.PathValue("pool"), in)
}

func (s *Server) removeLink(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	return nil, l.RemoveLink(r.Context(), r.PathValue("pool"), r.PathValue("child"))
}

func (s *Server) linkAccounts(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	as, err := l.DistributedAccounts(r.Context(), r.PathValue("pool"), r.PathValue("child"))
	if err != nil {
		return nil, err
	}
	return api.List[api.DistributedAccount]{Items: nonNil(as)}, nil
}

func (s *Server) distribute(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	account, err := pathAccount(r)
	if err != nil {
		return nil, err
	}
	var in api.Distribute
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return l.Distribute(r.Context(), r.PathValue("pool"), r.PathValue("member"), account, in)
}

func (s *Server) dedistribute(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	account, err := pathAccount(r)
	if err != nil {
		return nil, err
	}
	var in api.Dedistribute
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return l.Dedistribute(r.Context(), r.PathValue("pool"), r.PathValue("member"), account, in)
}

func (s *Server) distributionRuns(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if a := q.Get("account"); a != "" && !accountName.MatchString(a) {
		return nil, apperr.New(apperr.Invalid, "account name %q is invalid: want a lower-case letter, then up to 31 of a-z 0-9 _ -", a)
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return nil, err
	}
	if limit < 0 || limit > maxRuns {
		return nil, apperr.New(apperr.Invalid, "query parameter limit=%d: want 1 to %d", limit, maxRuns)
	}
	rs, err := l.Runs(r.Context(), q.Get("pool"), q.Get("account"), int(limit))
	if err != nil {
		return nil, err
	}
	return api.List[api.DistributionRun]{Items: nonNil(rs)}, nil
}

func (s *Server) distributionRun(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return l.Run(r.Context(), id)
}

func (s *Server) distributionLog(w http.ResponseWriter, r *http.Request) (any, error) {
	l, err := s.links()
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
	lines, err := l.RunLog(r.Context(), id, after, wait)
	if err != nil {
		return nil, err
	}
	out := api.List[api.RunLogLine]{Items: nonNil(lines), NextAfter: after}
	if n := len(lines); n > 0 {
		out.NextAfter = lines[n-1].Seq
	}
	return out, nil
}
