// Package cftest is a fake of Cloudflare's API v4 for tests, written
// from Cloudflare's public documentation (developers.cloudflare.com/api):
// Bearer API tokens (an unknown one is 401 code 9109 "Invalid access
// token", one without the zone or without write permission 403 code 10000
// "Authentication error"), zones and dns_records listed page by page
// (result_info with page, per_page, count, total_count, total_pages;
// zones per_page 5–50, records 1–5,000,000), records created (POST),
// overwritten (PUT), changed (PATCH) and deleted, and the batch endpoint
// POST /zones/{id}/dns_records/batch run as one transaction in the order
// deletes, patches, puts, posts, refused whole beyond the plan's limit
// (200 records on Free, 3,500 on paid plans). Records are validated as
// Cloudflare does: addresses (9005), a CNAME beside other records at its
// name (81053, 81054), identical records (81058), proxied only for A,
// AAAA and CNAME (9004), TTL 1 (automatic) or 60–86400 (30 on
// Enterprise). The global limit of 1,200 requests per 5 minutes is kept
// over a sliding window: past it every request is answered 429 with a
// Retry-After for the next five minutes. Time comes from a Clock that
// tests advance, so no test waits.
//
// Where the documentation does not give an error code the fake uses
// 1004 "DNS Validation Error" with a message saying what is wrong.
package cftest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Clock is a clock tests move: Sleep advances it at once. A clock from
// WallClock is the real time instead (a benchmark against the real limits).
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	wall bool
}

// WallClock returns a clock that reads and sleeps the real time.
func WallClock() *Clock { return &Clock{wall: true} }

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	if c.wall {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep advances the clock by d.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.wall {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.Advance(d)
	return nil
}

// Plan is a zone's plan.
type Plan struct {
	LegacyID   string
	BatchLimit int
	MinTTL     int
}

// The plans.
var (
	Free       = Plan{LegacyID: "free", BatchLimit: 200, MinTTL: 60}
	Pro        = Plan{LegacyID: "pro", BatchLimit: 3500, MinTTL: 60}
	Enterprise = Plan{LegacyID: "enterprise", BatchLimit: 3500, MinTTL: 30}
)

// Record is a record the fake holds.
type Record struct {
	ID        string          `json:"id"`
	ZoneID    string          `json:"zone_id"`
	ZoneName  string          `json:"zone_name"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Content   string          `json:"content"`
	TTL       int             `json:"ttl"`
	Proxied   bool            `json:"proxied"`
	Proxiable bool            `json:"proxiable"`
	Priority  *uint16         `json:"priority,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Comment   string          `json:"comment,omitempty"`
}

type zone struct {
	id, name string
	plan     Plan
	records  []Record
}

// Server is a running fake.
type Server struct {
	URL   string
	Clock *Clock

	limit  int
	window time.Duration

	mu       sync.Mutex
	tokens   map[string]token
	zones    []*zone
	nextID   int
	accepted []time.Time // requests counted in the window
	blocked  time.Time   // 429 until then
	served   int
	refused  int
	maxSeen  int
	malform  map[string]int // "METHOD path-suffix" -> answers left to garble
}

type token struct {
	write bool
	zones []string // empty: every zone
}

// Options configures a fake.
type Options struct {
	Clock  *Clock        // NewClock()
	Limit  int           // 1200
	Window time.Duration // 5 minutes
}

// Start starts a fake, stopped when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, stop := NewServer(o)
	t.Cleanup(stop)
	return s
}

// NewServer starts a fake outside a test; stop stops it.
func NewServer(o Options) (s *Server, stop func()) {
	if o.Clock == nil {
		o.Clock = NewClock()
	}
	if o.Limit == 0 {
		o.Limit = 1200
	}
	if o.Window == 0 {
		o.Window = 5 * time.Minute
	}
	s = &Server{Clock: o.Clock, limit: o.Limit, window: o.Window, tokens: map[string]token{}, malform: map[string]int{}}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = hs.URL + "/client/v4"
	return s, hs.Close
}

// Seed puts records into a zone without going through the API (nor its
// limit): a zone as it was before the test. Each record is validated as
// a create would be; the first refused one is returned.
func (s *Server) Seed(name string, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.name != norm(name) {
			continue
		}
		for _, r := range recs {
			s.nextID++
			r.ID, r.ZoneID, r.ZoneName = fmt.Sprintf("%032x", s.nextID), z.id, z.name
			checked, f := validate(z, z.records, r)
			if f != nil {
				return fmt.Errorf("seed %s %s: %s", r.Name, r.Type, f.errs[0].Message)
			}
			z.records = append(z.records, checked)
		}
		return nil
	}
	return fmt.Errorf("seed: no zone %s", name)
}

// AddToken makes token valid: for every zone when zones is empty, with
// DNS write permission when write.
func (s *Server) AddToken(tok string, write bool, zones ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, z := range zones {
		zones[i] = norm(z)
	}
	s.tokens[tok] = token{write: write, zones: zones}
}

// AddZone adds a zone on plan and returns its id.
func (s *Server) AddZone(name string, p Plan) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	z := &zone{id: fmt.Sprintf("%032x", s.nextID), name: norm(name), plan: p}
	s.zones = append(s.zones, z)
	return z.id
}

// Records returns a copy of the zone's records.
func (s *Server) Records(name string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.name == norm(name) {
			return slices.Clone(z.records)
		}
	}
	return nil
}

// Stats is what the fake saw.
type Stats struct {
	Served      int // answered, 429s included
	Refused     int // answered 429
	MaxInWindow int // most requests accepted within one window
}

// Stats returns what the fake saw.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Served: s.served, Refused: s.refused, MaxInWindow: s.maxSeen}
}

// Use counts n requests made elsewhere (the dashboard, another client of
// the same user) at the current time.
func (s *Server) Use(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.admit(s.Clock.Now())
	}
}

// Malform makes the next n answers to method on paths ending in suffix
// malformed (a truncated body, with status 200): the request is not
// applied.
func (s *Server) Malform(method, suffix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malform[method+" "+suffix] = n
}

func norm(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

// admit counts a request at now; it reports false (and blocks for a
// window) when the window is full.
func (s *Server) admit(now time.Time) bool {
	if now.Before(s.blocked) {
		return false
	}
	cut := now.Add(-s.window)
	i := 0
	for i < len(s.accepted) && !s.accepted[i].After(cut) {
		i++
	}
	s.accepted = s.accepted[i:]
	if len(s.accepted) >= s.limit {
		s.blocked = now.Add(s.window)
		return false
	}
	s.accepted = append(s.accepted, now)
	s.maxSeen = max(s.maxSeen, len(s.accepted))
	return true
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type failure struct {
	status int
	errs   []apiError
}

func fail(status, code int, format string, args ...any) *failure {
	return &failure{status: status, errs: []apiError{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func write(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeFailure(w http.ResponseWriter, f *failure) {
	write(w, f.status, map[string]any{"success": false, "errors": f.errs, "messages": []any{}, "result": nil})
}

func writeResult(w http.ResponseWriter, result any, info map[string]int) {
	body := map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": result}
	if info != nil {
		body["result_info"] = info
	}
	write(w, http.StatusOK, body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served++
	now := s.Clock.Now()
	if !s.admit(now) {
		s.refused++
		wait := s.blocked.Sub(now)
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeFailure(w, fail(http.StatusTooManyRequests, 971, "Please wait and consider throttling your request speed"))
		return
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if auth == "" {
		writeFailure(w, fail(http.StatusBadRequest, 10000, "Authentication error"))
		return
	}
	tk, known := s.tokens[tok]
	if !ok || !known {
		writeFailure(w, fail(http.StatusUnauthorized, 9109, "Invalid access token"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/client/v4")
	for k, n := range s.malform {
		if m, suffix, _ := strings.Cut(k, " "); n > 0 && m == r.Method && strings.HasSuffix(path, suffix) {
			s.malform[k] = n - 1
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"success":true,"result":[{"id":`))
			return
		}
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 1 && parts[0] == "zones" && r.Method == http.MethodGet {
		s.listZones(w, r, tk)
		return
	}
	if len(parts) < 3 || parts[0] != "zones" || parts[2] != "dns_records" {
		writeFailure(w, fail(http.StatusBadRequest, 7000, "No route for that URI"))
		return
	}
	z := s.zone(parts[1])
	if z == nil {
		writeFailure(w, fail(http.StatusBadRequest, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path))
		return
	}
	if len(tk.zones) > 0 && !slices.Contains(tk.zones, z.name) || r.Method != http.MethodGet && !tk.write {
		writeFailure(w, fail(http.StatusForbidden, 10000, "Authentication error"))
		return
	}
	var f *failure
	switch {
	case len(parts) == 3 && r.Method == http.MethodGet:
		s.listRecords(w, r, z)
		return
	case len(parts) == 3 && r.Method == http.MethodPost:
		f = s.single(w, r, z, func(b batch) batch { return batch{Posts: b.Posts} }, "posts")
	case len(parts) == 4 && parts[3] == "batch" && r.Method == http.MethodPost:
		f = s.batch(w, r, z)
	case len(parts) == 4 && r.Method == http.MethodDelete:
		f = s.apply(w, z, batch{Deletes: []json.RawMessage{json.RawMessage(strconv.Quote(parts[3]))}}, "deletes", true)
	case len(parts) == 4 && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		f = s.one(w, r, z, parts[3])
	default:
		f = fail(http.StatusMethodNotAllowed, 7001, "Method %s not allowed for this route", r.Method)
	}
	if f != nil {
		writeFailure(w, f)
	}
}

func (s *Server) zone(id string) *zone {
	for _, z := range s.zones {
		if z.id == id {
			return z
		}
	}
	return nil
}

// paging reads page and per_page (default def, at most max).
func paging(r *http.Request, def, lo, hi int) (int, int, *failure) {
	page, per := 1, def
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, fail(http.StatusBadRequest, 1004, "page must be a positive integer")
		}
		page = n
	}
	if v := r.URL.Query().Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, 0, fail(http.StatusBadRequest, 1004, "per_page must be between %d and %d", lo, hi)
		}
		per = n
	}
	return page, per, nil
}

func pageOf[T any](all []T, page, per int) ([]T, map[string]int) {
	start := min((page-1)*per, len(all))
	end := min(start+per, len(all))
	pages := (len(all) + per - 1) / per
	return all[start:end], map[string]int{"page": page, "per_page": per, "count": end - start, "total_count": len(all), "total_pages": pages}
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request, tk token) {
	page, per, f := paging(r, 20, 5, 50)
	if f != nil {
		writeFailure(w, f)
		return
	}
	name := norm(r.URL.Query().Get("name"))
	var all []map[string]any
	for _, z := range s.zones {
		if (name == "" || z.name == name) && (len(tk.zones) == 0 || slices.Contains(tk.zones, z.name)) {
			all = append(all, map[string]any{"id": z.id, "name": z.name, "status": "active",
				"name_servers": []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
				"plan":         map[string]any{"legacy_id": z.plan.LegacyID, "name": z.plan.LegacyID}})
		}
	}
	res, info := pageOf(all, page, per)
	if res == nil {
		res = []map[string]any{}
	}
	writeResult(w, res, info)
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, z *zone) {
	page, per, f := paging(r, 100, 1, 5000000)
	if f != nil {
		writeFailure(w, f)
		return
	}
	res, info := pageOf(z.records, page, per)
	if res == nil {
		res = []Record{}
	}
	writeResult(w, res, info)
}

// batch is the body of the batch endpoint, each entry kept raw.
type batch struct {
	Deletes []json.RawMessage `json:"deletes"`
	Patches []json.RawMessage `json:"patches"`
	Puts    []json.RawMessage `json:"puts"`
	Posts   []json.RawMessage `json:"posts"`
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request, z *zone) *failure {
	var b batch
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		return fail(http.StatusBadRequest, 9207, "Request body is invalid: %v", err)
	}
	if n := len(b.Deletes) + len(b.Patches) + len(b.Puts) + len(b.Posts); n > z.plan.BatchLimit {
		return fail(http.StatusBadRequest, 1004, "Batch of %d records exceeds the limit of %d records for the zone's plan", n, z.plan.BatchLimit)
	}
	return s.apply(w, z, b, "", false)
}

// single runs a one-record request through the batch machinery.
func (s *Server) single(w http.ResponseWriter, r *http.Request, z *zone, pick func(batch) batch, key string) *failure {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		return fail(http.StatusBadRequest, 9207, "Request body is invalid: %v", err)
	}
	return s.apply(w, z, pick(batch{Posts: []json.RawMessage{raw}}), key, true)
}

func (s *Server) one(w http.ResponseWriter, r *http.Request, z *zone, id string) *failure {
	var m map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return fail(http.StatusBadRequest, 9207, "Request body is invalid: %v", err)
	}
	m["id"] = json.RawMessage(strconv.Quote(id))
	raw, _ := json.Marshal(m)
	if r.Method == http.MethodPut {
		return s.apply(w, z, batch{Puts: []json.RawMessage{raw}}, "puts", true)
	}
	return s.apply(w, z, batch{Patches: []json.RawMessage{raw}}, "patches", true)
}

// apply runs b on a copy of the zone's records and keeps the copy only
// when every operation succeeded: one transaction. With single set, the
// answer is the one record of key.
func (s *Server) apply(w http.ResponseWriter, z *zone, b batch, key string, single bool) *failure {
	recs := slices.Clone(z.records)
	out := map[string][]Record{"deletes": {}, "patches": {}, "puts": {}, "posts": {}}
	index := func(id string) int { return slices.IndexFunc(recs, func(r Record) bool { return r.ID == id }) }
	for _, raw := range b.Deletes {
		var id string
		if json.Unmarshal(raw, &id) != nil {
			var d struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &d)
			id = d.ID
		}
		i := index(id)
		if i < 0 {
			return fail(http.StatusNotFound, 81044, "Record does not exist.")
		}
		out["deletes"] = append(out["deletes"], recs[i])
		recs = slices.Delete(recs, i, i+1)
	}
	for _, kind := range []string{"patches", "puts"} {
		list := b.Patches
		if kind == "puts" {
			list = b.Puts
		}
		for _, raw := range list {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(raw, &fields); err != nil {
				return fail(http.StatusBadRequest, 9207, "Request body is invalid: %v", err)
			}
			var id string
			_ = json.Unmarshal(fields["id"], &id)
			i := index(id)
			if i < 0 {
				return fail(http.StatusNotFound, 81044, "Record does not exist.")
			}
			next := Record{ID: id, ZoneID: z.id, ZoneName: z.name}
			if kind == "patches" {
				next = recs[i]
			}
			if f := decodeInto(&next, fields); f != nil {
				return f
			}
			rest := slices.Delete(slices.Clone(recs), i, i+1)
			checked, f := validate(z, rest, next)
			if f != nil {
				return f
			}
			recs[i] = checked
			out[kind] = append(out[kind], checked)
		}
	}
	for _, raw := range b.Posts {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return fail(http.StatusBadRequest, 9207, "Request body is invalid: %v", err)
		}
		delete(fields, "id")
		s.nextID++
		next := Record{ID: fmt.Sprintf("%032x", s.nextID), ZoneID: z.id, ZoneName: z.name}
		if f := decodeInto(&next, fields); f != nil {
			return f
		}
		checked, f := validate(z, recs, next)
		if f != nil {
			return f
		}
		recs = append(recs, checked)
		out["posts"] = append(out["posts"], checked)
	}
	z.records = recs
	if single {
		if len(out[key]) == 1 {
			writeResult(w, out[key][0], nil)
		} else {
			writeResult(w, map[string]string{"id": ""}, nil)
		}
		return nil
	}
	writeResult(w, out, nil)
	return nil
}

// decodeInto sets the fields given on r.
func decodeInto(r *Record, fields map[string]json.RawMessage) *failure {
	for k, v := range fields {
		var err error
		switch k {
		case "id":
		case "type":
			err = json.Unmarshal(v, &r.Type)
		case "name":
			err = json.Unmarshal(v, &r.Name)
		case "content":
			err = json.Unmarshal(v, &r.Content)
		case "ttl":
			err = json.Unmarshal(v, &r.TTL)
		case "proxied":
			err = json.Unmarshal(v, &r.Proxied)
		case "priority":
			err = json.Unmarshal(v, &r.Priority)
		case "data":
			r.Data = slices.Clone(v)
		case "comment":
			err = json.Unmarshal(v, &r.Comment)
		default:
			return fail(http.StatusBadRequest, 9207, "Request body is invalid: unknown field %q", k)
		}
		if err != nil {
			return fail(http.StatusBadRequest, 9207, "Request body is invalid: field %s: %v", k, err)
		}
	}
	return nil
}

var known = []string{"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"}

// validate checks r as Cloudflare does against the zone's other records.
func validate(z *zone, others []Record, r Record) (Record, *failure) {
	r.Type = strings.ToUpper(r.Type)
	r.Name = norm(r.Name)
	if r.TTL == 0 {
		r.TTL = 1
	}
	if !slices.Contains(known, r.Type) {
		return r, fail(http.StatusBadRequest, 1004, "DNS Validation Error: unsupported record type %q", r.Type)
	}
	if r.Name != z.name && !strings.HasSuffix(r.Name, "."+z.name) {
		return r, fail(http.StatusBadRequest, 1004, "DNS Validation Error: the record name %s is not in zone %s", r.Name, z.name)
	}
	if r.TTL != 1 && (r.TTL < z.plan.MinTTL || r.TTL > 86400) {
		return r, fail(http.StatusBadRequest, 1004, "DNS Validation Error: TTL must be between %d and 86400 seconds, or 1 for Automatic", z.plan.MinTTL)
	}
	r.Proxiable = r.Type == "A" || r.Type == "AAAA" || r.Type == "CNAME"
	if r.Proxied {
		if !r.Proxiable {
			return r, fail(http.StatusBadRequest, 9004, "This record type cannot be proxied.")
		}
		r.TTL = 1
	}
	if f := content(r); f != nil {
		return r, f
	}
	for _, o := range others {
		if o.Name != r.Name {
			continue
		}
		switch {
		case r.Type == "CNAME":
			return r, fail(http.StatusBadRequest, 81053, "An A, AAAA, or CNAME record with that host already exists.")
		case o.Type == "CNAME":
			return r, fail(http.StatusBadRequest, 81054, "A CNAME record with that host already exists.")
		case o.Type == r.Type && o.Content == r.Content && eqPriority(o.Priority, r.Priority) && string(o.Data) == string(r.Data):
			return r, fail(http.StatusBadRequest, 81058, "An identical record already exists.")
		}
	}
	if r.Type == "CNAME" && r.Name == z.name && len(others) > 0 {
		return r, fail(http.StatusBadRequest, 81053, "An A, AAAA, or CNAME record with that host already exists.")
	}
	return r, nil
}

func eqPriority(a, b *uint16) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func hostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || strings.ContainsAny(l, " \t\"\\") {
			return false
		}
	}
	return true
}

// content checks a record's content and data for its type.
func content(r Record) *failure {
	switch r.Type {
	case "A", "AAAA":
		ip, err := netip.ParseAddr(r.Content)
		if err != nil || (r.Type == "A") != ip.Is4() || net.ParseIP(r.Content) == nil {
			want := "IPv4"
			if r.Type == "AAAA" {
				want = "IPv6"
			}
			return fail(http.StatusBadRequest, 9005, "Content for %s record is invalid. Must be a valid %s address.", r.Type, want)
		}
	case "CNAME", "NS", "PTR":
		if !hostname(r.Content) {
			return fail(http.StatusBadRequest, 9007, "Content for %s record is invalid.", r.Type)
		}
	case "MX":
		if !hostname(r.Content) || r.Priority == nil {
			return fail(http.StatusBadRequest, 1004, "DNS Validation Error: an MX record needs a host name as content and a priority")
		}
	case "TXT":
		if r.Content == "" || len(r.Content) > 4096 {
			return fail(http.StatusBadRequest, 1004, "DNS Validation Error: TXT content must be 1–4096 characters")
		}
	case "SRV":
		var d struct {
			Priority, Weight, Port *uint16
			Target                 string
		}
		if json.Unmarshal(r.Data, &d) != nil || d.Priority == nil || d.Weight == nil || d.Port == nil || !hostname(d.Target) {
			return fail(http.StatusBadRequest, 1004, "DNS Validation Error: an SRV record needs data with priority, weight, port and target")
		}
	case "CAA":
		var d struct {
			Flags      *uint8
			Tag, Value string
		}
		if json.Unmarshal(r.Data, &d) != nil || d.Flags == nil || d.Tag == "" || d.Value == "" {
			return fail(http.StatusBadRequest, 1004, "DNS Validation Error: a CAA record needs data with flags, tag and value")
		}
	}
	return nil
}
