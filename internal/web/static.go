package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// staticFiles serves the embedded CSS, icon and vendored scripts. URLs
// carry a content hash (?v=...), so the files can be cached for a year.
type staticFiles struct {
	files map[string][]byte // by name relative to static/
	hash  map[string]string // short content hash, by name
}

func loadStatic() (*staticFiles, error) {
	s := &staticFiles{files: map[string][]byte{}, hash: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(b)
		s.files[name], s.hash[name] = b, hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load dashboard static files: %w", err)
	}
	if err := verifyVendor(s.files); err != nil {
		return nil, err
	}
	return s, nil
}

// verifyVendor checks the vendored files against vendor/CHECKSUMS
// (sha256sum format; # starts a comment): every listed file must match and
// every vendored script must be listed.
func verifyVendor(files map[string][]byte) error {
	sums, ok := files["vendor/CHECKSUMS"]
	if !ok {
		return fmt.Errorf("dashboard: static/vendor/CHECKSUMS is missing")
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want, name, ok := strings.Cut(line, "  ")
		if !ok {
			return fmt.Errorf("dashboard: vendor/CHECKSUMS: malformed line %q", line)
		}
		b, ok := files["vendor/"+name]
		if !ok {
			return fmt.Errorf("dashboard: vendored file %s is listed in CHECKSUMS but missing", name)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != want {
			return fmt.Errorf("dashboard: vendored file %s has sha256 %x, CHECKSUMS says %s", name, got, want)
		}
		listed[name] = true
	}
	for name := range files {
		if strings.HasPrefix(name, "vendor/") && strings.HasSuffix(name, ".js") && !listed[strings.TrimPrefix(name, "vendor/")] {
			return fmt.Errorf("dashboard: vendored file %s is not in CHECKSUMS", name)
		}
	}
	return nil
}

// url returns the cache-busting URL of a static file.
func (s *staticFiles) url(name string) (string, error) {
	h, ok := s.hash[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + name + "?v=" + h, nil
}

func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	b, ok := s.files[name]
	if !ok || strings.HasPrefix(path.Base(name), "CHECKSUMS") {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	if r.URL.Query().Get("v") == s.hash[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+s.hash[name]+`"`)
	if r.Header.Get("If-None-Match") == `"`+s.hash[name]+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(b)
}
