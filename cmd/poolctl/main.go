// Command poolctl is the poolctl server, agent and command-line client in
// one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/poolctl/poolctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
