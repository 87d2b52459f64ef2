package dns

import (
	"context"
	"testing"
)

func TestProbe(t *testing.T) {
	s := startServer(t, Config{}, fixtureZone(t))
	ctx := context.Background()
	for _, zone := range []string{"", fixtureZone(t).Name} {
		if err := Probe(ctx, s.Addr(), zone); err != nil {
			t.Errorf("Probe(%q) of a running nameserver: got %v, want nil", zone, err)
		}
	}
	if got := s.Stats().Queries; got != 2 {
		t.Errorf("queries counted: got %d, want 2 (probes count like any query)", got)
	}

	stopped, err := NewServer(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := stopped.Start(); err != nil {
		t.Fatal(err)
	}
	addr := stopped.Addr()
	if err := stopped.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := Probe(ctx, addr, ""); err == nil {
		t.Errorf("Probe of a stopped nameserver at %s: got nil, want an error", addr)
	}
}
