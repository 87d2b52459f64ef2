package apiserver

import (
	"encoding/json"
	"github.com/poolctl/poolctl/api"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// pathParam matches a path wildcard: {name}, or {name...} for the rest of
// the path (which OpenAPI writes {name}).
var pathParam = regexp.MustCompile(`\{([a-z]+)(?:\.\.\.)?\}`)

// optionalBody lists the routes whose body may be left out.
var optionalBody = map[string]bool{
	"/api/v1/pools/{pool}/members/{member}/enrollment-secret": true,
	"/api/v1/pools/{pool}/members/{member}/make-active":       true,
}

// OpenAPI builds the OpenAPI 3.1 document from the route table, with JSON
// schemas derived from the wire types by reflection.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"responses":   map[string]any{},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			typ := "string"
			if m[1] == "id" {
				typ = "integer"
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": typ}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.in != nil {
			op["requestBody"] = map[string]any{"required": !optionalBody[rt.path], "content": g.content(rt.in)}
		}
		ok := map[string]any{"description": "success"}
		if rt.out != nil {
			ok["content"] = g.content(rt.out)
		}
		resps := op["responses"].(map[string]any)
		resps[itoa(rt.okStatus())] = ok
		resps["default"] = map[string]any{"description": "error", "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ErrorBody"}}}}
		switch rt.auth {
		case authAdmin:
			op["security"] = []any{map[string]any{"adminToken": []any{}}}
		case authAgent:
			op["security"] = []any{map[string]any{"agentToken": []any{}}}
		case authCluster:
			op["security"] = []any{map[string]any{"clusterToken": []any{}}}
		default:
			op["security"] = []any{}
		}
		p := docPath(rt.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.method)] = op
	}
	g.schema(reflect.TypeOf(api.ErrorBody{}))
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "poolctl API",
			"version":     "1",
			"description": "Pools, members, agents, jobs, events, tokens and zones of a poolctl server.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"adminToken":   map[string]any{"type": "http", "scheme": "bearer", "description": "admin API token (DATA/admin.token or `poolctl token create`)"},
				"agentToken":   map[string]any{"type": "http", "scheme": "bearer", "description": "agent credential received at enrolment"},
				"clusterToken": map[string]any{"type": "http", "scheme": "bearer", "description": "token of scope cluster (`poolctl token create NAME --scope cluster`), for another member of the DNS cluster"},
			},
		},
	}
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) (any, error) {
	s.openapiOnce.Do(func() {
		s.openapiDoc, _ = json.MarshalIndent(s.OpenAPI(), "", "  ")
	})
	return rawJSON(s.openapiDoc), nil
}

// docPath is a route's path as OpenAPI writes it: {name...} becomes {name}.
func docPath(p string) string { return strings.ReplaceAll(p, "...}", "}") }

// content describes a body of the example type v: raw bytes for octets,
// else JSON.
func (g *schemaGen) content(v any) map[string]any {
	if _, ok := v.(plainText); ok {
		return map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	}
	if _, ok := v.(octets); ok {
		return map[string]any{"application/octet-stream": map[string]any{
			"schema": map[string]any{"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}}}
	}
	return map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(v))}}
}

func operationID(rt route) string {
	p := strings.TrimPrefix(strings.TrimPrefix(rt.path, "/api/v1"), "/")
	p = pathParam.ReplaceAllString(p, "by-$1")
	return strings.ToLower(rt.method) + "-" + strings.ReplaceAll(p, "/", "-")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

type schemaGen struct{ defs map[string]any }

var (
	timeType     = reflect.TypeOf(time.Time{})
	rawJSONType  = reflect.TypeOf(json.RawMessage{})
	durationName = "Duration"
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawJSONType:
		return map[string]any{"description": "any JSON value"}
	case t.Name() == durationName && t.Kind() == reflect.Int64:
		return map[string]any{"type": "string", "description": "Go duration such as 30s or 1m30s", "examples": []any{"30s"}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.schema(t.Elem())
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Struct:
		name := strings.NewReplacer("[", "_", "]", "", "/", "_", ".", "_").Replace(t.Name())
		if i := strings.LastIndex(name, "_"); strings.Contains(t.Name(), "[") && i > 0 {
			name = "List_" + name[i+1:]
		}
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder for recursion
			props := map[string]any{}
			var required []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				jn, opts, _ := strings.Cut(tag, ",")
				if jn == "" {
					jn = f.Name
				}
				props[jn] = g.schema(f.Type)
				if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
					required = append(required, jn)
				}
			}
			def := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				def["required"] = required
			}
			g.defs[name] = def
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}
