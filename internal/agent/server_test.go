package agent

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// fakeAPI implements the agent routes of the poolctl API the way the server
// does: bearer credential, error bodies, 204 on an empty long poll, 410 for
// a removed member, and a switch that answers 503 as in an outage.
type fakeAPI struct {
	t      *testing.T
	secret string // the one enrolment secret it accepts, once
	token  string

	mu        sync.Mutex
	enrolled  bool
	outage    bool
	removed   bool
	sendFacts bool
	beats     []api.Heartbeat
	failed    int // answers given as 503
	queue     []api.Job
	nextID    int64
	logs      map[int64][]string
	logCalls  map[int64]int
	results   map[int64]api.JobResult
	changed   chan struct{} // closed and replaced on every change
}

func newFakeAPI(t *testing.T) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{
		t:        t,
		secret:   base64.RawURLEncoding.EncodeToString([]byte("a random enrolment secret")),
		token:    "agent-token-1",
		nextID:   100,
		logs:     map[int64][]string{},
		logCalls: map[int64]int{},
		results:  map[int64]api.JobResult{},
		changed:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/agent/enroll", f.enroll)
	mux.HandleFunc("POST /api/v1/agent/heartbeat", f.agent(f.heartbeat))
	mux.HandleFunc("GET /api/v1/agent/jobs/next", f.agent(f.nextJob))
	mux.HandleFunc("POST /api/v1/agent/jobs/{id}/log", f.agent(f.jobLog))
	mux.HandleFunc("POST /api/v1/agent/jobs/{id}/result", f.agent(f.jobResult))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

// secretFor returns an enrolment secret pinned to srv's certificate.
func (f *fakeAPI) secretFor(srv *httptest.Server) string {
	sum := sha256.Sum256(srv.Certificate().Raw)
	return "pe1." + base64.RawURLEncoding.EncodeToString(sum[:]) + "." + f.secret
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// notify wakes waiters; call with f.mu held.
func (f *fakeAPI) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor blocks until cond (called with f.mu held) holds.
func (f *fakeAPI) waitFor(what string, cond func() bool) {
	f.t.Helper()
	// A safety net against a hang, not a timing assertion.
	deadline := time.After(60 * time.Second)
	for {
		f.mu.Lock()
		ok, ch := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			f.t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func (f *fakeAPI) enroll(w http.ResponseWriter, r *http.Request) {
	var in api.EnrollRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, 400, "invalid", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(in.Secret, ".")
	random := parts[len(parts)-1]
	switch {
	case random != f.secret:
		writeError(w, 403, "forbidden", "enrolment secret is wrong or expired")
	case f.enrolled:
		writeError(w, 403, "forbidden", "enrolment secret was already used")
	default:
		f.enrolled = true
		writeJSON(w, api.EnrollResponse{Pool: "web", Member: "node1", Token: f.token, HeartbeatInterval: api.Duration(5 * time.Second)})
	}
}

// agent wraps an agent route with the credential check and the outage and
// removal switches.
func (f *fakeAPI) agent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		outage, removed := f.outage, f.removed
		if outage {
			f.failed++
			f.notify()
		}
		f.mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bearer "+f.token:
			writeError(w, 401, "unauthorized", "unknown agent credential")
		case outage:
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
		case removed:
			writeError(w, 410, "gone", "member node1 was removed from pool web")
		default:
			h(w, r)
		}
	}
}

func (f *fakeAPI) heartbeat(w http.ResponseWriter, r *http.Request) {
	var hb api.Heartbeat
	if err := json.NewDecoder(r.Body).Decode(&hb); err != nil {
		writeError(w, 400, "invalid", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats = append(f.beats, hb)
	reply := api.HeartbeatReply{Status: api.StatusHealthy, ServerTime: time.Now(), JobsPending: len(f.queue), SendFacts: f.sendFacts}
	f.sendFacts = false
	f.notify()
	writeJSON(w, reply)
}

func (f *fakeAPI) enqueue(kind string, args any) int64 {
	b, _ := json.Marshal(args)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.queue = append(f.queue, api.Job{ID: f.nextID, Pool: "web", Member: "node1", Kind: kind, Args: b, Status: api.JobQueued})
	f.notify()
	return f.nextID
}

func (f *fakeAPI) nextJob(w http.ResponseWriter, r *http.Request) {
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		writeError(w, 400, "invalid", "wait: "+err.Error())
		return
	}
	// Answer a little before the client gives up, as the server does.
	deadline := time.After(wait * 3 / 4)
	for {
		f.mu.Lock()
		if len(f.queue) > 0 {
			job := f.queue[0]
			f.queue = f.queue[1:]
			job.Status = api.JobRunning
			f.notify()
			f.mu.Unlock()
			writeJSON(w, job)
			return
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func jobID(r *http.Request) int64 {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id
}

func (f *fakeAPI) jobLog(w http.ResponseWriter, r *http.Request) {
	var in api.JobLogAppend
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, 400, "invalid", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := jobID(r)
	if _, done := f.results[id]; done {
		writeError(w, 409, "conflict", "job already finished")
		return
	}
	f.logs[id] = append(f.logs[id], in.Lines...)
	f.logCalls[id]++
	f.notify()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeAPI) jobResult(w http.ResponseWriter, r *http.Request) {
	var in api.JobResult
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, 400, "invalid", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[jobID(r)] = in
	f.notify()
	w.WriteHeader(http.StatusNoContent)
}
