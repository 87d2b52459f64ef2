package failover

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImports keeps the engine free of HTTP and of the packages it reaches
// through interfaces: the composition root adapts them.
func TestImports(t *testing.T) {
	forbidden := func(path string) bool {
		switch {
		case strings.HasPrefix(path, "net/http"), strings.Contains(path, "/http"), path == "net/rpc":
			return true
		}
		for _, p := range []string{"internal/store", "internal/fleet", "internal/dns", "internal/cli", "internal/apiserver", "internal/probe"} {
			if strings.HasSuffix(path, "/"+p) || strings.Contains(path, "/"+p+"/") {
				return true
			}
		}
		return false
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); forbidden(p) {
				t.Errorf("%s imports %s, want no HTTP, store, fleet or dns package", f, p)
			}
		}
	}

	// Indirect imports too, when the go command is at hand.
	gotool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gotool); err != nil {
		if gotool, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to list dependencies")
		}
	}
	out, err := exec.Command(gotool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if forbidden(dep) {
			t.Errorf("the failover package depends on %s, want no HTTP, store, fleet or dns package", dep)
		}
	}
}
