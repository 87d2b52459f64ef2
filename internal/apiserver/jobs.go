package apiserver

import (
	"net/http"
	"time"

	"github.com/poolctl/poolctl/api"
)

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) (any, error) {
	js, err := s.d.Fleet.ListJobs(r.Context(), r.PathValue("pool"), r.PathValue("member"))
	return api.List[api.Job]{Items: nonNil(js)}, err
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.JobCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.EnqueueJob(r.Context(), r.PathValue("pool"), r.PathValue("member"), in)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.d.Fleet.Job(r.Context(), id)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.d.Fleet.CancelJob(r.Context(), id)
}

func (s *Server) jobLog(w http.ResponseWriter, r *http.Request) (any, error) {
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
	lines, err := s.d.Fleet.JobLog(r.Context(), id, after, wait)
	out := api.List[api.JobLogLine]{Items: nonNil(lines), NextAfter: after}
	if n := len(lines); n > 0 {
		out.NextAfter = lines[n-1].Seq
	}
	return out, err
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.EnrollRequest
	if err := decode(w, r, 16<<10, &in); err != nil {
		return nil, err
	}
	from, err := s.source(r)
	if err != nil {
		return nil, err
	}
	if err := s.d.Fleet.CheckEnrollVersion(in.AgentVersion); err != nil {
		return nil, err // before the secret is spent (docs/agents.md, "Versions")
	}
	resp, err := s.d.Fleet.Enroll(r.Context(), in, from)
	if err != nil {
		return nil, err
	}
	s.d.Fleet.FillEnroll(&resp)
	return resp, nil
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) (any, error) {
	var hb api.Heartbeat
	if err := decode(w, r, maxHeartbeat, &hb); err != nil {
		return nil, err
	}
	out, err := s.d.Fleet.Heartbeat(r.Context(), agentOf(r), hb)
	if err == nil && s.d.Metrics != nil {
		s.d.Metrics.Heartbeat()
	}
	return out, err
}

func (s *Server) nextJob(w http.ResponseWriter, r *http.Request) (any, error) {
	wait, err := queryDuration(r, "wait", time.Minute)
	if err != nil {
		return nil, err
	}
	j, err := s.d.Fleet.NextJob(r.Context(), agentOf(r), wait)
	if err != nil || j == nil {
		return nil, err
	}
	return j, nil
}

func (s *Server) appendJobLog(w http.ResponseWriter, r *http.Request) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	var in api.JobLogAppend
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return nil, s.d.Fleet.AppendJobLog(r.Context(), agentOf(r), id, in)
}

func (s *Server) finishJob(w http.ResponseWriter, r *http.Request) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	var in api.JobResult
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return nil, s.d.Fleet.FinishJob(r.Context(), agentOf(r), id, in)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) (any, error) {
	ts, err := s.d.Fleet.ListTokens(r.Context())
	return api.List[api.Token]{Items: nonNil(ts)}, err
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) (any, error) {
	var in api.TokenCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return s.d.Fleet.CreateToken(r.Context(), in)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return nil, s.d.Fleet.RevokeToken(r.Context(), id)
}
