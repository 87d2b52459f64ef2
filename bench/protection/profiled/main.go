// Command profiled is poolctl (the same as cmd/poolctl) with a CPU profile
// of the whole process written to $POOLCTL_BENCH_CPUPROFILE when it is set,
// for profiling agents in bench/protection (`poolctl server` profiles
// itself with POOLCTL_CPUPROFILE). The profile is written when the process
// ends on SIGTERM or SIGINT.
//
//	go build -o WORK/poolctl ./bench/protection/profiled
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/poolctl/poolctl/internal/cli"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("POOLCTL_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpu profile:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	return cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
