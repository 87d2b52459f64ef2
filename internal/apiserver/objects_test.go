package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// objectProtections is the agent side of apiserver.Protections over a real
// local object store: protection 1 replicates from member "a" (read and
// write) to member "b" (read only) of pool p1.
type objectProtections struct {
	apiserver.Protections // the admin side: not used here (calls panic)
	objects               *local.Store
	key                   []byte
}

func newObjectProtections(t *testing.T) *objectProtections {
	t.Helper()
	st, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &objectProtections{objects: st, key: bytes.Repeat([]byte{7}, 32)}
}

func (f *objectProtections) AuthorizeObject(ctx context.Context, a fleet.Agent, key string, write bool) error {
	if a.Pool == "p1" && strings.HasPrefix(key, "protections/1/") && (a.Member == "a" || (a.Member == "b" && !write)) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "member %s may not %s %q", a.Member, map[bool]string{true: "write", false: "read"}[write], key)
}

func (f *objectProtections) Objects() objstore.Store { return f.objects }

func (f *objectProtections) ChunkKey(ctx context.Context, a fleet.Agent, id int64) ([]byte, error) {
	if id != 1 {
		return nil, apperr.New(apperr.NotFound, "no protection %d", id)
	}
	if err := f.AuthorizeObject(ctx, a, "protections/1/x", false); err != nil {
		return nil, err
	}
	return f.key, nil
}

// objectEnv is an API server with account protection over fixture f's
// store: agents a and b of pool p1, plus c of pool p2.
type objectEnv struct {
	*env
	prot          *objectProtections
	tokA, tokB    string
	tokC          string
	cliA, cliB    *client.Client
	objectsPrefix string
}

func newObjectEnv(t *testing.T) *objectEnv {
	t.Helper()
	base := newEnv(t, storetest.Open(t, store.SQLite))
	ctx := context.Background()
	for _, p := range []string{"p1", "p2"} {
		if _, err := base.c.CreatePool(ctx, api.PoolCreate{Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	oe := &objectEnv{prot: newObjectProtections(t), objectsPrefix: "/api/v1/agent/objects/"}
	oe.tokA = base.enroll(t, base.member(t, "p1", api.MemberCreate{Name: "a"}).EnrollmentSecret)
	oe.tokB = base.enroll(t, base.member(t, "p1", api.MemberCreate{Name: "b"}).EnrollmentSecret)
	oe.tokC = base.enroll(t, base.member(t, "p2", api.MemberCreate{Name: "c"}).EnrollmentSecret)
	srv := httptest.NewServer(apiserver.New(apiserver.Deps{Fleet: base.svc, Protections: oe.prot, Version: "test"}))
	t.Cleanup(srv.Close)
	e := *base
	e.srv = srv
	oe.env = &e
	oe.cliA, oe.cliB = e.client(t, oe.tokA), e.client(t, oe.tokB)
	return oe
}

func TestObjects(t *testing.T) {
	e := newObjectEnv(t)
	ctx := context.Background()
	const key = "protections/1/chunks/00ff"
	data := []byte("chunk bytes\x00\xff with binary")

	// Put and get through the client.
	if err := e.cliA.PutObject(ctx, key, data); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := e.cliB.GetObject(ctx, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get by the standby: got %q, %v, want %q", got, err, data)
	}
	// Raw: octet-stream with a length.
	r := e.do(t, req{method: "GET", path: e.objectsPrefix + key, token: e.tokA})
	if r.status != 200 || r.header.Get("Content-Type") != "application/octet-stream" ||
		r.header.Get("Content-Length") != fmt.Sprint(len(data)) || !bytes.Equal(r.body, data) {
		t.Errorf("raw get: got %d %q length %q body %q, want 200 application/octet-stream of %d bytes",
			r.status, r.header.Get("Content-Type"), r.header.Get("Content-Length"), r.body, len(data))
	}
	// Replacing works; an empty object is an object.
	if err := e.cliA.PutObject(ctx, key, nil); err != nil {
		t.Fatalf("put empty: %v", err)
	}
	if got, err := e.cliA.GetObject(ctx, key); err != nil || len(got) != 0 {
		t.Errorf("get empty: got %q, %v, want no bytes", got, err)
	}
	// A raw put without a content type is fine too.
	r = e.do(t, req{method: "PUT", path: e.objectsPrefix + "protections/1/raw", token: e.tokA, body: []byte("raw")})
	wantStatus(t, "raw put", r, 204, nil)

	// Delete, then the object is gone; deleting again is fine.
	for range 2 {
		if err := e.cliA.DeleteObject(ctx, key); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	_, err = e.cliA.GetObject(ctx, key)
	wantAPIError(t, "get deleted", err, 404, "not_found")
	r = e.do(t, req{method: "GET", path: e.objectsPrefix + key, token: e.tokA})
	wantError(t, "raw get deleted", r, 404, "not_found", key)

	// The OpenAPI document describes the raw bodies as such.
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	wantStatus(t, "openapi", e.do(t, req{method: "GET", path: "/api/v1/openapi.json"}), 200, &doc)
	op := doc.Paths["/api/v1/agent/objects/{key}"]
	if _, ok := op["put"].RequestBody.Content["application/octet-stream"]; !ok {
		t.Errorf("openapi: PUT object body: got %v, want application/octet-stream", op["put"].RequestBody.Content)
	}
	if _, ok := op["get"].Responses["200"].Content["application/octet-stream"]; !ok {
		t.Errorf("openapi: GET object answer: got %v, want application/octet-stream", op["get"].Responses["200"].Content)
	}

	// Chunk key.
	k, err := e.cliB.ChunkKey(ctx, 1)
	if err != nil || !bytes.Equal(k[:], e.prot.key) {
		t.Errorf("chunk key: got %x, %v, want %x", k, err, e.prot.key)
	}
	_, err = e.cliA.ChunkKey(ctx, 2)
	wantAPIError(t, "chunk key of another protection", err, 404, "not_found")
	_, err = e.client(t, e.tokC).ChunkKey(ctx, 1)
	wantAPIError(t, "chunk key for another pool's member", err, 403, "forbidden")
	var ck api.ChunkKey
	wantStatus(t, "raw chunk key", e.agentJSON(t, e.tokA, "GET", "/api/v1/agent/protections/1/key", ""), 200, &ck)
	if b, err := base64.StdEncoding.DecodeString(ck.Key); err != nil || len(b) != 32 {
		t.Errorf("raw chunk key: got %q, want base64 of 32 bytes", ck.Key)
	}
}

func TestObjectList(t *testing.T) {
	e := newObjectEnv(t)
	ctx := context.Background()
	var keys []string
	for i := range 7 {
		k := fmt.Sprintf("protections/1/chunks/%02d", i)
		keys = append(keys, k)
		if err := e.cliA.PutObject(ctx, k, bytes.Repeat([]byte("x"), i)); err != nil {
			t.Fatal(err)
		}
	}
	// A neighbour that a prefix without a trailing slash would match.
	if err := e.prot.objects.Put(ctx, "protections/12/chunks/zz", strings.NewReader("other"), 5); err != nil {
		t.Fatal(err)
	}
	if err := e.cliA.PutObject(ctx, "protections/1/manifests/run-1-files", []byte("m")); err != nil {
		t.Fatal(err)
	}

	// Pages of 3 by hand.
	var seen []string
	after := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatalf("list: still paging after %d pages", page)
		}
		var l api.List[api.ObjectInfo]
		path := "/api/v1/agent/objects?prefix=protections/1/chunks/&limit=3&after=" + after
		wantStatus(t, "list page", e.agentJSON(t, e.tokB, "GET", path, ""), 200, &l)
		for _, o := range l.Items {
			seen = append(seen, o.Key)
			if want := int64(o.Key[len(o.Key)-1] - '0'); o.Size != want {
				t.Errorf("list %s: got size %d, want %d", o.Key, o.Size, want)
			}
		}
		if len(l.Items) > 3 {
			t.Errorf("list page: got %d items, want at most 3", len(l.Items))
		}
		if l.Next == "" {
			break
		}
		if l.Next != l.Items[len(l.Items)-1].Key {
			t.Errorf("list page: got next %q, want the last key %q", l.Next, l.Items[len(l.Items)-1].Key)
		}
		after = l.Next
	}
	if fmt.Sprint(seen) != fmt.Sprint(keys) {
		t.Errorf("list pages: got %v, want %v", seen, keys)
	}

	// The client lists everything under a prefix; one that would also
	// match another protection's keys is refused.
	var all []string
	err := e.cliB.ListObjects(ctx, "protections/1/", func(o api.ObjectInfo) error {
		all = append(all, o.Key)
		return nil
	})
	if want := append(append([]string{}, keys...), "protections/1/manifests/run-1-files"); err != nil || fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("client list: got %v, %v, want %v", all, err, want)
	}
	err = e.cliB.ListObjects(ctx, "protections/1", func(o api.ObjectInfo) error { return nil })
	wantAPIError(t, "list of protections/1 without a slash", err, 403, "forbidden")
	// fn's error stops the listing and comes back unchanged.
	stop := errors.New("stop")
	n := 0
	err = e.cliB.ListObjects(ctx, "protections/1/", func(api.ObjectInfo) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("list stopped by fn: got %v after %d calls, want stop after 1", err, n)
	}
	// An empty listing.
	var l api.List[api.ObjectInfo]
	wantStatus(t, "empty list", e.agentJSON(t, e.tokA, "GET", "/api/v1/agent/objects?prefix=protections/1/none/", ""), 200, &l)
	if l.Items == nil || len(l.Items) != 0 || l.Next != "" {
		t.Errorf("empty list: got %+v, want items [] and no next", l)
	}
}

// TestObjectListPages fills more than one full page (10000 objects, written
// straight into the local store's directory) and lists it with the client.
func TestObjectListPages(t *testing.T) {
	e := newObjectEnv(t)
	dir := filepath.Join(e.prot.objects.Dir(), "protections", "1", "chunks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 10000 + 5
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	prev := ""
	err := e.cliA.ListObjects(context.Background(), "protections/1/chunks/", func(o api.ObjectInfo) error {
		if o.Key <= prev {
			return fmt.Errorf("key %q after %q: want increasing keys", o.Key, prev)
		}
		prev = o.Key
		got++
		return nil
	})
	if err != nil || got != n {
		t.Errorf("list of %d objects: got %d, %v", n, got, err)
	}
}

func TestObjectsRefused(t *testing.T) {
	e := newObjectEnv(t)
	ctx := context.Background()
	const ok = "/api/v1/agent/objects/protections/1/chunks/ab"
	if err := e.cliA.PutObject(ctx, "protections/1/chunks/ab", []byte("ab")); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<20+1)
	for _, c := range []struct {
		name   string
		rq     req
		status int
		code   string
		msg    []string
	}{
		{"other protection", req{method: "PUT", path: "/api/v1/agent/objects/protections/2/chunks/ab", token: e.tokA, body: []byte("x")}, 403, "forbidden", []string{"protections/2/chunks/ab"}},
		{"standby writes", req{method: "PUT", path: ok, token: e.tokB, body: []byte("x")}, 403, "forbidden", nil},
		{"standby deletes", req{method: "DELETE", path: ok, token: e.tokB}, 403, "forbidden", nil},
		{"other pool reads", req{method: "GET", path: ok, token: e.tokC}, 403, "forbidden", nil},
		{"other pool lists", req{method: "GET", path: "/api/v1/agent/objects?prefix=protections/1/", token: e.tokC}, 403, "forbidden", nil},
		{"no credential", req{method: "GET", path: ok}, 401, "unauthorized", nil},
		{"admin token", req{method: "GET", path: ok, token: e.admin}, 401, "unauthorized", nil},
		{"dot segment", req{method: "PUT", path: "/api/v1/agent/objects/protections/1/.tmp-x", token: e.tokA, body: []byte("x")}, 400, "invalid", []string{"dot"}},
		{"long segment", req{method: "GET", path: "/api/v1/agent/objects/protections/1/" + strings.Repeat("s", 256), token: e.tokA}, 400, "invalid", []string{"longer than 255"}},
		{"control character", req{method: "GET", path: "/api/v1/agent/objects/protections/1/a%07b", token: e.tokA}, 400, "invalid", []string{"unprintable"}},
		{"json content type", req{method: "PUT", path: ok, token: e.tokA, body: []byte(`{}`), ct: "application/json"}, 400, "invalid", []string{"application/octet-stream"}},
		{"oversize", req{method: "PUT", path: ok, token: e.tokA, body: big}, 413, "too_large", nil},
		{"missing", req{method: "GET", path: "/api/v1/agent/objects/protections/1/chunks/none", token: e.tokA}, 404, "not_found", []string{"protections/1/chunks/none"}},
		{"list without prefix", req{method: "GET", path: "/api/v1/agent/objects", token: e.tokA}, 400, "invalid", []string{"prefix"}},
		{"list bad prefix", req{method: "GET", path: "/api/v1/agent/objects?prefix=protections//1", token: e.tokA}, 400, "invalid", []string{"prefix"}},
		{"list limit", req{method: "GET", path: "/api/v1/agent/objects?prefix=protections/1/&limit=10001", token: e.tokA}, 400, "invalid", []string{"10000"}},
		{"list limit text", req{method: "GET", path: "/api/v1/agent/objects?prefix=protections/1/&limit=x", token: e.tokA}, 400, "invalid", []string{"limit"}},
		{"key of no protection", req{method: "GET", path: "/api/v1/agent/protections/x/key", token: e.tokA}, 400, "invalid", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, c.name, e.do(t, c.rq), c.status, c.code, c.msg...)
		})
	}

	// A put without any length (raw HTTP: Go's client always sends one
	// for PUT) and a chunked upload are refused.
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", ok, e.tokA)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	conn.Close()
	wantError(t, "put without Content-Length", reply{status: resp.StatusCode, header: resp.Header, body: body}, 411, "length_required", "Content-Length")
	hr, _ := http.NewRequest("PUT", e.srv.URL+ok, io.MultiReader(strings.NewReader("chunked")))
	hr.Header.Set("Authorization", "Bearer "+e.tokA)
	resp, err = http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, "chunked put", reply{status: resp.StatusCode, header: resp.Header, body: body}, 411, "length_required")

	// Nothing refused was stored; the object is unchanged.
	if got, err := e.cliA.GetObject(ctx, "protections/1/chunks/ab"); err != nil || string(got) != "ab" {
		t.Errorf("object after refused writes: got %q, %v, want \"ab\"", got, err)
	}
	for _, k := range []string{"protections/2/chunks/ab"} {
		if ok, _ := objstore.Exists(ctx, e.prot.objects, k); ok {
			t.Errorf("object %s: got stored, want refused", k)
		}
	}
	// The client refuses oversize objects itself.
	if err := e.cliA.PutObject(ctx, "protections/1/big", big); err == nil {
		t.Errorf("client put of %d bytes: got no error, want one", len(big))
	}
}

// TestObjectsUnavailable: without account protection every object route
// answers 503.
func TestObjectsUnavailable(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ctx := context.Background()
	if _, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "p1"}); err != nil {
		t.Fatal(err)
	}
	tok := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "a"}).EnrollmentSecret)
	for _, rq := range []req{
		{method: "PUT", path: "/api/v1/agent/objects/protections/1/x", body: []byte("x")},
		{method: "GET", path: "/api/v1/agent/objects/protections/1/x"},
		{method: "DELETE", path: "/api/v1/agent/objects/protections/1/x"},
		{method: "GET", path: "/api/v1/agent/objects?prefix=protections/1/"},
		{method: "GET", path: "/api/v1/agent/protections/1/key"},
	} {
		rq.token = tok
		wantError(t, rq.method+" "+rq.path, e.do(t, rq), 503, "unavailable", "account protection")
	}
}

// TestObjectsConcurrent: many goroutines share one client.
func TestObjectsConcurrent(t *testing.T) {
	e := newObjectEnv(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			for i := range 10 {
				k := fmt.Sprintf("protections/1/c/%02d-%02d", g, i)
				want := []byte(k)
				if err := e.cliA.PutObject(ctx, k, want); err != nil {
					errs <- err
					return
				}
				got, err := e.cliB.GetObject(ctx, k)
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("get %s: got %q, %v", k, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	if err := e.cliA.ListObjects(ctx, "protections/1/c/", func(api.ObjectInfo) error { n++; return nil }); err != nil || n != 320 {
		t.Errorf("list after concurrent puts: got %d, %v, want 320", n, err)
	}
}

// BenchmarkPutSmallObjects measures uploads of small chunks, one request
// each, through the client over TLS with keep-alive (8 at a time).
func BenchmarkPutSmallObjects(b *testing.B) {
	base := newEnv(b, storetest.Open(b, store.SQLite))
	ctx := context.Background()
	if _, err := base.c.CreatePool(ctx, api.PoolCreate{Name: "p1"}); err != nil {
		b.Fatal(err)
	}
	tok := base.enroll(b, base.member(b, "p1", api.MemberCreate{Name: "a"}).EnrollmentSecret)
	st, err := local.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	prot := &objectProtections{objects: st}
	srv := httptest.NewTLSServer(apiserver.New(apiserver.Deps{Fleet: base.svc, Protections: prot}))
	defer srv.Close()
	// The agent's own transport (keep-alive, its idle-connection pool),
	// pinned to the test server's certificate.
	sum := sha256.Sum256(srv.Certificate().Raw)
	c, err := client.New(srv.URL, client.Options{Token: tok, CAFingerprint: hex.EncodeToString(sum[:])})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 4<<10)
	b.SetParallelism(4) // 4×GOMAXPROCS goroutines, as the snapshot's workers
	b.ResetTimer()
	start := time.Now()
	var mu sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			k := fmt.Sprintf("protections/1/chunks/%08d", i)
			mu.Unlock()
			if err := c.PutObject(ctx, k, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
}

// TestObjectBatch: a batch stores every object; a batch with one refused
// key, a malformed frame or too many objects stores nothing it was refused
// for and says why.
func TestObjectBatch(t *testing.T) {
	e := newObjectEnv(t)
	ctx := context.Background()
	var objs []api.Object
	for i := range 300 {
		objs = append(objs, api.Object{Key: fmt.Sprintf("protections/1/chunks/%04x", i), Data: bytes.Repeat([]byte{byte(i)}, i)})
	}
	if err := e.cliA.PutObjects(ctx, objs); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		got, err := e.cliB.GetObject(ctx, o.Key)
		if err != nil || !bytes.Equal(got, o.Data) {
			t.Fatalf("%s: got %d bytes, %v; want %d", o.Key, len(got), err, len(o.Data))
		}
	}
	if err := e.cliB.PutObjects(ctx, objs[:1]); client.StatusOf(err) != 403 {
		t.Errorf("standby's batch: %v, want 403", err)
	}
	bad := []api.Object{{Key: "protections/1/chunks/new", Data: []byte("x")}, {Key: "protections/2/chunks/x", Data: []byte("y")}}
	if err := e.cliA.PutObjects(ctx, bad); client.StatusOf(err) != 403 {
		t.Errorf("batch with a foreign key: %v, want 403", err)
	}
	if _, err := e.cliA.GetObject(ctx, "protections/1/chunks/new"); client.StatusOf(err) != 404 {
		t.Errorf("a refused batch stored its first object: %v", err)
	}
	frame := api.AppendObjectFrame(nil, api.Object{Key: "protections/1/chunks/cut", Data: []byte("abcdef")})
	wantError(t, "cut frame", e.do(t, req{method: "POST", path: "/api/v1/agent/objects-batch", token: e.tokA, body: frame[:len(frame)-2]}), 400, "invalid", "cut short")
	dot := api.AppendObjectFrame(nil, api.Object{Key: "protections/1/.x", Data: []byte("a")})
	wantError(t, "bad key", e.do(t, req{method: "POST", path: "/api/v1/agent/objects-batch", token: e.tokA, body: dot}), 400, "invalid", "batch object 1")
	var many []byte
	for i := range api.MaxBatchObjects + 1 {
		many = api.AppendObjectFrame(many, api.Object{Key: fmt.Sprintf("protections/1/chunks/m%d", i)})
	}
	wantError(t, "too many", e.do(t, req{method: "POST", path: "/api/v1/agent/objects-batch", token: e.tokA, body: many}), 413, "too_large", "4096")
}

func TestObjectFrames(t *testing.T) {
	in := []api.Object{{Key: "a/b", Data: []byte("x")}, {Key: "c", Data: nil}, {Key: strings.Repeat("k", 300), Data: bytes.Repeat([]byte{1}, 70000)}}
	var b []byte
	for _, o := range in {
		b = api.AppendObjectFrame(b, o)
	}
	for i, want := range in {
		o, rest, ok := api.ReadObjectFrame(b)
		if !ok || o.Key != want.Key || !bytes.Equal(o.Data, want.Data) {
			t.Fatalf("frame %d: %q %d bytes ok=%v", i, o.Key, len(o.Data), ok)
		}
		b = rest
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left", len(b))
	}
	for _, cut := range [][]byte{{0}, {0, 5, 'a'}, {0, 1, 'a', 0, 0, 0, 9, 'x'}} {
		if _, _, ok := api.ReadObjectFrame(cut); ok {
			t.Errorf("ReadObjectFrame(%v) accepted a cut frame", cut)
		}
	}
}
