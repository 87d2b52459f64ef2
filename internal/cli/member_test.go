package cli

import (
	"testing"

	"github.com/poolctl/poolctl/api"
)

func TestStackSummary(t *testing.T) {
	s := api.Stack{
		CPanel:  &api.Component{Detected: true, Version: "118.0.12", Running: true},
		MariaDB: &api.Component{Detected: true, Version: "10.11.19-MariaDB-0+deb12u1", Running: true},
		Exim:    &api.Component{Detected: true, Version: "4.96", Running: false},
		Postfix: &api.Component{Detected: false},
	}
	if got, want := stackSummary(s), "cPanel 118.0 / MariaDB 10.11 / Exim 4.96 (stopped)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := stackSummary(api.Stack{}); got != "-" {
		t.Fatalf("empty stack: got %q, want -", got)
	}
}
