package apiserver_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// exercisedRoutes are the operations this package's tests call; each must
// be described by the OpenAPI document.
var exercisedRoutes = []string{
	"GET /healthz",
	"GET /readyz",
	"GET /metrics",
	"GET /api/v1/dns/providers",
	"POST /api/v1/dns/providers",
	"GET /api/v1/dns/providers/{name}",
	"DELETE /api/v1/dns/providers/{name}",
	"GET /api/v1/notify/channels",
	"POST /api/v1/notify/channels",
	"GET /api/v1/notify/channels/{name}",
	"DELETE /api/v1/notify/channels/{name}",
	"POST /api/v1/notify/channels/{name}/test",
	"GET /api/v1/notify/deliveries",
	"GET /api/v1/notify/deliveries/{id}",
	"GET /api/v1/pools/{pool}/monitor",
	"PUT /api/v1/pools/{pool}/monitor/channels/{channel}",
	"DELETE /api/v1/pools/{pool}/monitor/channels/{channel}",
	"GET /api/v1/maintenance",
	"POST /api/v1/pools/{pool}/maintenance",
	"DELETE /api/v1/pools/{pool}/maintenance",
	"POST /api/v1/pools/{pool}/members/{member}/rotate-credential",
	"POST /api/v1/pools/{pool}/rotate-credentials",
	"POST /api/v1/pools/{pool}/members/{member}/revoke-credential",
	"POST /api/v1/pools/{pool}/members/{member}/update-agent",
	"POST /api/v1/pools/{pool}/agent-rollout",
	"GET /api/v1/pools/{pool}/agent-rollout",
	"POST /api/v1/pools/{pool}/agent-rollout/cancel",
	"GET /api/v1/agent/releases",
	"GET /api/v1/agent/releases/SHA256SUMS",
	"GET /api/v1/agent/releases/{os}/{arch}",
	"GET /api/v1/agent/install.sh",
	"GET /api/v1/health",
	"GET /api/v1/openapi.json",
	"GET /api/v1/pools",
	"POST /api/v1/pools",
	"GET /api/v1/pools/{pool}",
	"PATCH /api/v1/pools/{pool}",
	"DELETE /api/v1/pools/{pool}",
	"POST /api/v1/pools/{pool}/banner/ack",
	"GET /api/v1/pools/{pool}/members",
	"POST /api/v1/pools/{pool}/members",
	"GET /api/v1/pools/{pool}/members/{member}",
	"PATCH /api/v1/pools/{pool}/members/{member}",
	"DELETE /api/v1/pools/{pool}/members/{member}",
	"POST /api/v1/pools/{pool}/members/{member}/enrollment-secret",
	"POST /api/v1/pools/{pool}/members/{member}/make-active",
	"GET /api/v1/pools/{pool}/members/{member}/jobs",
	"POST /api/v1/pools/{pool}/members/{member}/jobs",
	"GET /api/v1/jobs/{id}",
	"POST /api/v1/jobs/{id}/cancel",
	"GET /api/v1/jobs/{id}/log",
	"GET /api/v1/events",
	"GET /api/v1/pools/{pool}/members/{member}/accounts",
	"POST /api/v1/pools/{pool}/accounts/{account}/cut-dns",
	"GET /api/v1/protections",
	"POST /api/v1/pools/{pool}/protections",
	"GET /api/v1/pools/{pool}/protections/{account}",
	"PATCH /api/v1/pools/{pool}/protections/{account}",
	"DELETE /api/v1/pools/{pool}/protections/{account}",
	"POST /api/v1/pools/{pool}/protections/{account}/pause",
	"POST /api/v1/pools/{pool}/protections/{account}/resume",
	"POST /api/v1/pools/{pool}/protections/{account}/run",
	"POST /api/v1/pools/{pool}/protections/{account}/reverse",
	"GET /api/v1/pools/{pool}/protections/{account}/runs",
	"GET /api/v1/runs/{id}",
	"GET /api/v1/runs/{id}/log",
	"POST /api/v1/runs/{id}/confirm",
	"POST /api/v1/runs/{id}/reject",
	"GET /api/v1/tokens",
	"POST /api/v1/tokens",
	"DELETE /api/v1/tokens/{id}",
	"GET /api/v1/cluster/hello",
	"GET /api/v1/dns/cluster",
	"PUT /api/v1/dns/cluster",
	"GET /api/v1/dns/cluster/members",
	"POST /api/v1/dns/cluster/members",
	"PATCH /api/v1/dns/cluster/members/{host}",
	"DELETE /api/v1/dns/cluster/members/{host}",
	"POST /api/v1/dns/cluster/members/{host}/enable",
	"POST /api/v1/dns/cluster/resync",
	"PUT /api/v1/cluster/zones/{zone}",
	"GET /api/v1/cluster/zones/{zone}",
	"POST /api/v1/cluster/peers",
	"GET /api/v1/dns/cluster/members/{host}/log",
	"GET /api/v1/dns/cluster/conflicts",
	"GET /api/v1/dns/cluster/conflicts/{id}",
	"POST /api/v1/dns/cluster/conflicts/{id}/resolve",
	"DELETE /api/v1/cluster/zones/{zone}",
	"GET /api/v1/zones",
	"POST /api/v1/zones",
	"GET /api/v1/zones/{zone}",
	"DELETE /api/v1/zones/{zone}",
	"GET /api/v1/zones/{zone}/records",
	"POST /api/v1/zones/{zone}/records",
	"DELETE /api/v1/zones/{zone}/records/{id}",
	"GET /api/v1/zones/{zone}/dnssec",
	"POST /api/v1/zones/{zone}/dnssec",
	"DELETE /api/v1/zones/{zone}/dnssec",
	"GET /api/v1/zones/{zone}/dnssec/ds",
	"POST /api/v1/zones/{zone}/dnssec/rollover",
	"POST /api/v1/zones/{zone}/import",
	"GET /api/v1/zones/{zone}/export",
	"POST /api/v1/agent/enroll",
	"POST /api/v1/agent/heartbeat",
	"GET /api/v1/agent/jobs/next",
	"POST /api/v1/agent/jobs/{id}/log",
	"POST /api/v1/agent/jobs/{id}/result",
	"GET /api/v1/agent/objects",
	"PUT /api/v1/agent/objects/{key}",
	"GET /api/v1/agent/objects/{key}",
	"DELETE /api/v1/agent/objects/{key}",
	"POST /api/v1/agent/objects-batch",
	"GET /api/v1/agent/protections/{id}/key",
	"PUT /api/v1/pools/{pool}/members/{member}/profile",
	"GET /api/v1/links",
	"GET /api/v1/pools/{pool}/links",
	"POST /api/v1/pools/{pool}/links",
	"DELETE /api/v1/pools/{pool}/links/{child}",
	"GET /api/v1/pools/{pool}/links/{child}/accounts",
	"POST /api/v1/pools/{pool}/members/{member}/accounts/{account}/distribute",
	"POST /api/v1/pools/{pool}/members/{member}/accounts/{account}/dedistribute",
	"GET /api/v1/distribution-runs",
	"GET /api/v1/distribution-runs/{id}",
	"GET /api/v1/distribution-runs/{id}/log",
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// componentName is what OpenAPI 3.1 allows as a components/schemas key.
var componentName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

func TestOpenAPI(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ctx := context.Background()
	if _, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "p1"}); err != nil {
		t.Fatal(err)
	}
	agent := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "a"}).EnrollmentSecret)
	clusterTok, err := e.c.CreateToken(ctx, api.TokenCreate{Name: "ns2", Scope: "cluster"})
	if err != nil {
		t.Fatal(err)
	}

	r := e.do(t, req{method: "GET", path: "/api/v1/openapi.json"})
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: got %d %q, want 200 application/json", r.status, r.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       map[string]any                        `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("openapi.json: got invalid JSON (%v), want a document", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: got %q, want 3.1.0", doc.OpenAPI)
	}
	if doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Errorf("info: got %v, want title and version", doc.Info)
	}

	type op struct {
		OperationID string                      `json:"operationId"`
		Summary     string                      `json:"summary"`
		Parameters  []struct{ Name, In string } `json:"parameters"`
		Responses   map[string]json.RawMessage  `json:"responses"`
		Security    []map[string][]string       `json:"security"`
		RequestBody json.RawMessage             `json:"requestBody"`
	}
	documented := map[string]bool{}
	opIDs := map[string]string{}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc.Paths {
		for m, raw := range item {
			if !slices.Contains(methods, m) {
				continue
			}
			key := strings.ToUpper(m) + " " + path
			documented[key] = true
			var o op
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Errorf("%s: operation: %v", key, err)
				continue
			}
			if o.OperationID == "" || o.Summary == "" {
				t.Errorf("%s: got operationId %q summary %q, want both", key, o.OperationID, o.Summary)
			}
			if prev, dup := opIDs[o.OperationID]; dup {
				t.Errorf("operationId %q: got it on %s and %s, want it unique", o.OperationID, prev, key)
			}
			opIDs[o.OperationID] = key
			var declared []string
			for _, p := range o.Parameters {
				if p.In == "path" {
					declared = append(declared, p.Name)
				}
			}
			var inPath []string
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				inPath = append(inPath, m[1])
			}
			if !slices.Equal(declared, inPath) {
				t.Errorf("%s: path parameters: got %v, want %v", key, declared, inPath)
			}
			if _, ok := o.Responses["default"]; !ok || len(o.Responses) < 2 {
				t.Errorf("%s: responses: got %v, want a success status and default", key, keys(o.Responses))
			}
			for _, s := range o.Security {
				for name := range s {
					if _, ok := doc.Components.SecuritySchemes[name]; !ok {
						t.Errorf("%s: security scheme %q: got undefined, want it in components", key, name)
					}
				}
			}

			// The route answers: anything but the catch-all "no API route".
			fill := strings.NewReplacer("{pool}", "nosuch", "{member}", "nosuch", "{id}", "999999", "{zone}", "nosuch.example", "{account}", "nosuch")
			rq := req{method: strings.ToUpper(m), path: fill.Replace(path)}
			switch {
			case len(o.Security) > 0 && o.Security[0]["adminToken"] != nil:
				rq.token = e.admin
			case len(o.Security) > 0 && o.Security[0]["agentToken"] != nil:
				rq.token = agent
			case len(o.Security) > 0 && o.Security[0]["clusterToken"] != nil:
				rq.token = clusterTok.Secret
			}
			if o.RequestBody != nil {
				rq.body, rq.ct = []byte(`{}`), "application/json"
			}
			got := e.do(t, rq)
			var eb api.ErrorBody
			_ = json.Unmarshal(got.body, &eb)
			if got.status == 404 && strings.HasPrefix(eb.Error.Message, "no API route") || got.status == 405 {
				t.Errorf("%s %s: got %s, want the route's own answer", rq.method, rq.path, got)
			}
			if got.status >= 500 && got.status != 503 {
				t.Errorf("%s %s: got %s, want no server error", rq.method, rq.path, got)
			}
			if strings.Contains(path, "/zones") || strings.HasSuffix(path, "/make-active") {
				wantError(t, key+" without the engine", got, 503, "unavailable")
			}
			linked := strings.Contains(path, "/links") || strings.HasSuffix(path, "/profile") || strings.HasSuffix(path, "/distribute") ||
				strings.HasSuffix(path, "/dedistribute") || strings.HasPrefix(path, "/api/v1/distribution-runs")
			if linked {
				wantError(t, key+" without linked nodes", got, 503, "unavailable", "linked nodes are not available")
			}
			if !linked && !strings.HasPrefix(path, "/api/v1/agent/") && (strings.Contains(path, "/protections") || strings.Contains(path, "/accounts") || strings.HasPrefix(path, "/api/v1/runs")) {
				wantError(t, key+" without account protection", got, 503, "unavailable", "account protection")
			}
		}
	}
	for _, k := range exercisedRoutes {
		if !documented[k] {
			t.Errorf("route %s: got it served and exercised, want it in openapi.json", k)
		}
	}
	for k := range documented {
		if !slices.Contains(exercisedRoutes, k) {
			t.Errorf("route %s: got it documented, want it in exercisedRoutes (tested)", k)
		}
	}

	// Every $ref points at a schema that exists and has a valid name.
	var walk func(path string, v any)
	nrefs := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				nrefs++
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if !found {
					t.Errorf("%s: $ref %q: want #/components/schemas/…", path, ref)
				} else if _, ok := doc.Components.Schemas[name]; !ok {
					t.Errorf("%s: $ref %q: got no such schema, want one of %v", path, ref, keys(doc.Components.Schemas))
				} else if !componentName.MatchString(name) {
					t.Errorf("%s: $ref %q: got schema name %q, want one matching %s", path, ref, name, componentName)
				}
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(path+"/"+itoa(i), c)
			}
		}
	}
	var all any
	if err := json.Unmarshal(r.body, &all); err != nil {
		t.Fatal(err)
	}
	walk("#", all)
	if nrefs == 0 {
		t.Errorf("$refs: got none, want schemas referenced")
	}
	for name := range doc.Components.Schemas {
		if !componentName.MatchString(name) {
			t.Errorf("components/schemas key %q: want a name matching %s", name, componentName)
		}
	}
	// The error body is described as the API sends it.
	var eb struct {
		Properties map[string]struct {
			Ref        string                     `json:"$ref"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(doc.Components.Schemas["ErrorBody"], &eb)
	detail := eb.Properties["error"].Properties
	if ref := eb.Properties["error"].Ref; ref != "" {
		var d struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		_ = json.Unmarshal(doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], &d)
		detail = d.Properties
	}
	if detail["code"] == nil || detail["message"] == nil {
		t.Errorf("ErrorBody schema: got %s, want error.code and error.message", doc.Components.Schemas["ErrorBody"])
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
