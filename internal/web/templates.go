package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed templates/*.html
var templateFS embed.FS

// templates holds one parsed set per page: the shared layout and partials
// (files starting with "_") cloned and joined with the page's own file, as
// miniflux's template engine does. Everything is parsed at start-up.
type templates struct {
	pages    map[string]*template.Template
	partials *template.Template
	bufs     sync.Pool
}

func parseTemplates(funcs template.FuncMap) (*templates, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard layout: %w", err)
	}
	if base.Lookup("layout") == nil {
		return nil, fmt.Errorf("dashboard templates lack the layout")
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	t := &templates{pages: map[string]*template.Template{}, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if strings.HasPrefix(name, "_") {
			continue
		}
		c, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := c.ParseFS(templateFS, f); err != nil {
			return nil, fmt.Errorf("parse dashboard page %s: %w", name, err)
		}
		if c.Lookup("content") == nil {
			return nil, fmt.Errorf("dashboard page %s defines no content", name)
		}
		t.pages[name] = c
	}
	if t.partials, err = base.Clone(); err != nil {
		return nil, err
	}
	return t, nil
}

// render writes page name with data, buffered so that a template error
// becomes an error page and never half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t := h.tpl.pages[name]
	buf := h.tpl.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer h.tpl.bufs.Put(buf)
	if t == nil {
		h.log.Error("no such dashboard page", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		h.log.Error("render dashboard page", "page", name, "err", err)
		if name != "error" {
			h.render(w, r, http.StatusInternalServerError, "error", &errorPage{Base: h.base(r, "Internal error", ""),
				Status: 500, Message: "Internal error while drawing this page; the server log has the details."})
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fragment renders partial template name to a string (for live updates
// and htmx swaps).
func (h *Handler) fragment(name string, data any) (string, error) {
	var b strings.Builder
	if err := h.tpl.partials.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}

// writeFragment answers an htmx request with a partial.
func (h *Handler) writeFragment(w http.ResponseWriter, name string, data any) error {
	s, err := h.fragment(name, data)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write([]byte(s))
	return err
}
