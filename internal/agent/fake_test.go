package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// fakeClient is an in-memory apiClient for tests inside a synctest bubble,
// where real network I/O would keep the fake clock from advancing. Build it
// inside the bubble.
type fakeClient struct {
	mu       sync.Mutex
	attempts []attempt // every heartbeat tried, failed or not
	beatErr  func(n int) error
	reply    func(n int) api.HeartbeatReply
	jobs     chan api.Job
	polls    int
	pollErr  error
	okPolls  []time.Time // polls that reached the "server"
	logs     map[int64][]string
	logCalls map[int64]int
	logErr   func(call int) error
	results  map[int64]api.JobResult
	tokens   []string // credentials set by rotations, in order
	binary   []byte   // what DownloadAgentBinary serves

	// The agent object API: objects by key, the chunk key of every
	// protection, request counts, and a hook that may fail (or delay) a
	// request: op is "put", "get" or "list".
	objects  map[string][]byte
	chunkKey [32]byte
	puts     int
	gets     int
	objHook  func(op, key string) error
	// objWait, when set, runs after objHook with the request's context
	// (a test blocks a request there until the job is cancelled).
	objWait func(ctx context.Context, op, key string) error
}

type attempt struct {
	at time.Time
	hb api.Heartbeat
	ok bool
}

func newFakeClient() *fakeClient {
	return &fakeClient{
		jobs:     make(chan api.Job, 100),
		logs:     map[int64][]string{},
		logCalls: map[int64]int{},
		results:  map[int64]api.JobResult{},
		objects:  map[string][]byte{},
		chunkKey: [32]byte{1, 2, 3},
	}
}

func apiError(status int) error {
	return &client.Error{Status: status, Code: "test", Message: "answered " + strings.ToLower(httpStatusText(status))}
}

func httpStatusText(status int) string {
	return map[int]string{401: "Unauthorized", 403: "Forbidden", 410: "Gone", 503: "Service Unavailable"}[status]
}

func (f *fakeClient) Heartbeat(ctx context.Context, hb api.Heartbeat) (api.HeartbeatReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.attempts)
	var err error
	if f.beatErr != nil {
		err = f.beatErr(n)
	}
	f.attempts = append(f.attempts, attempt{at: time.Now(), hb: hb, ok: err == nil})
	if err != nil {
		return api.HeartbeatReply{}, err
	}
	if f.reply != nil {
		return f.reply(n), nil
	}
	return api.HeartbeatReply{Status: api.StatusHealthy}, nil
}

func (f *fakeClient) SetToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, token)
}

func (f *fakeClient) NextJob(ctx context.Context, wait time.Duration) (*api.Job, error) {
	f.mu.Lock()
	f.polls++
	err := f.pollErr
	if err == nil {
		f.okPolls = append(f.okPolls, time.Now())
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case j := <-f.jobs:
		return &j, nil
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fakeClient) AppendJobLog(ctx context.Context, id int64, lines []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logCalls[id]++
	if f.logErr != nil {
		if err := f.logErr(f.logCalls[id]); err != nil {
			return err
		}
	}
	f.logs[id] = append(f.logs[id], lines...)
	return nil
}

func (f *fakeClient) FinishJob(ctx context.Context, id int64, res api.JobResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[id] = res
	return nil
}

func (f *fakeClient) hook(ctx context.Context, op, key string) error {
	f.mu.Lock()
	h, w := f.objHook, f.objWait
	f.mu.Unlock()
	if h != nil {
		if err := h(op, key); err != nil {
			return err
		}
	}
	if w != nil {
		return w(ctx, op, key)
	}
	return nil
}

func (f *fakeClient) PutObject(ctx context.Context, key string, data []byte) error {
	if err := f.hook(ctx, "put", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	f.objects[key] = append([]byte(nil), data...)
	return nil
}

func (f *fakeClient) PutObjects(ctx context.Context, objs []api.Object) error {
	for _, o := range objs {
		if err := f.PutObject(ctx, o.Key, o.Data); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeClient) GetObject(ctx context.Context, key string) ([]byte, error) {
	if err := f.hook(ctx, "get", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	b, ok := f.objects[key]
	if !ok {
		return nil, &client.Error{Status: 404, Code: "not_found", Message: "no object " + key}
	}
	return append([]byte(nil), b...), nil
}

func (f *fakeClient) ListObjects(ctx context.Context, prefix string, fn func(api.ObjectInfo) error) error {
	if err := f.hook(ctx, "list", prefix); err != nil {
		return err
	}
	f.mu.Lock()
	var list []api.ObjectInfo
	for k, b := range f.objects {
		if strings.HasPrefix(k, prefix) {
			list = append(list, api.ObjectInfo{Key: k, Size: int64(len(b))})
		}
	}
	f.mu.Unlock()
	slices.SortFunc(list, func(a, b api.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range list {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeClient) ChunkKey(ctx context.Context, protection int64) ([32]byte, error) {
	return f.chunkKey, nil
}

// keys lists the stored object keys under prefix, sorted.
func (f *fakeClient) keys(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeClient) snapshot() []attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]attempt(nil), f.attempts...)
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	testFacts = api.Facts{Hostname: "node1.example", OS: "linux", CPUCount: 2, MemTotalBytes: 1 << 30}
	testStack = api.Stack{MariaDB: &api.Component{Detected: true, Version: "10.11.19-MariaDB", Running: true, Flavor: "mariadb"}}
)

// newTestAgent returns an agent on fc with fake probes: fixed facts and
// stack, and metrics that report 1 byte of memory.
func newTestAgent(t *testing.T, fc *fakeClient, cfg Config) (*Agent, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Version = "test"
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	st := &State{Format: 1, Server: "https://poolctl.example:8443", Pool: "web", Member: "node1", Token: "t"}
	a := newAgent(cfg, st, fc)
	a.probes = probes{
		metrics: func(context.Context) api.Metrics { return api.Metrics{MemTotal: 1} },
		facts:   func(context.Context) (api.Facts, error) { return testFacts, nil },
		stack:   func(context.Context) api.Stack { return testStack },
		updates: func(context.Context) (*int, *int) { return nil, nil },
		procs:   func(context.Context) (procSet, error) { return procSet{{name: "mariadbd"}}, nil },
	}
	return a, logs
}

// start runs a in the background; stop cancels it and returns Run's error.
func start(t *testing.T, a *Agent) (stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

// DownloadAgentBinary serves f.binary (a test sets it).
func (f *fakeClient) DownloadAgentBinary(ctx context.Context, path string, w io.Writer, max int64) (int64, error) {
	f.mu.Lock()
	b := f.binary
	f.mu.Unlock()
	n, err := w.Write(b)
	return int64(n), err
}
