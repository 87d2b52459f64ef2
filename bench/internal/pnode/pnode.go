// Package pnode starts `poolctl server` and `poolctl dns-node` processes
// for the benchmarks and connects to them with the public client.
package pnode

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	procs "github.com/poolctl/poolctl/bench/internal/proc"
	"github.com/poolctl/poolctl/client"
)

// Node is a started poolctl server or dns-node.
type Node struct {
	P   *procs.Proc
	C   *client.Client
	URL string // its API
	DNS string // its nameserver, HOST:PORT
	CA  []byte // its CA (DATA/ca.pem)
}

// Start runs `BINARY SUB --data DIR/NAME --listen LISTEN --dns-listen DNS`
// with env added, its output in DIR/NAME.log, and waits (bounded) until it
// has written its URL, nameserver address and admin token.
func Start(ctx context.Context, binary, dir, name, sub, listen, dnsListen string, env ...string) (Node, error) {
	data := filepath.Join(dir, name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return Node{}, err
	}
	_ = os.Remove(filepath.Join(data, "server.url"))
	p, err := procs.Start(name, filepath.Join(dir, name+".log"), env, binary, sub, "--data", data, "--listen", listen, "--dns-listen", dnsListen)
	if err != nil {
		return Node{}, err
	}
	n := Node{P: p}
	read := func(file string) (string, error) {
		for range 3000 {
			if b, err := os.ReadFile(filepath.Join(data, file)); err == nil && len(bytes.TrimSpace(b)) > 0 {
				return strings.TrimSpace(string(b)), nil
			}
			if p.Exited() || ctx.Err() != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return "", fmt.Errorf("%s did not write %s (log %s)", name, file, filepath.Join(dir, name+".log"))
	}
	if n.URL, err = read("server.url"); err != nil {
		return n, err
	}
	if n.DNS, err = read("dns.addr"); err != nil {
		return n, err
	}
	tok, err := read("admin.token")
	if err != nil {
		return n, err
	}
	if n.CA, err = os.ReadFile(filepath.Join(data, "ca.pem")); err != nil {
		return n, err
	}
	n.C, err = client.New(n.URL, client.Options{Token: tok, CAPEM: n.CA, Timeout: 60 * time.Second})
	return n, err
}
