package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the README's first command to its failover.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole failover")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runDemo(ctx, &out, demoOptions{pause: 11 * time.Second, dnsListen: "127.0.0.1:0", stopAfterCut: true}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"www.demo.test -> 192.0.2.10 (node1 is active)", "event failover.cut", "DNS answer changed: www.demo.test -> 192.0.2.20"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
