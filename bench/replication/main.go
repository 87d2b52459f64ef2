// Command replication benchmarks the replication engine against restic on
// the same generated hosting-like data: first snapshot+restore, stored size,
// and an incremental run after changing 1 % of the files. Run it through
// bench/replication.sh, which installs restic when missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/poolctl/poolctl/bench/internal/gen"
	"github.com/poolctl/poolctl/bench/internal/restic"
	"github.com/poolctl/poolctl/internal/replication"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "replication bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name            string
	backup, restore time.Duration
	stored          int64
	incr            time.Duration
	incrUp          int64
}

func run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("replication", flag.ContinueOnError)
	work := fl.String("work", "", "work directory (required)")
	sizeMiB := fl.Int64("size-mib", 1024, "data size in MiB")
	files := fl.Int("files", 34000, "approximate number of files")
	noRestic := fl.Bool("no-restic", false, "skip restic")
	workers := fl.Int("workers", 0, "files processed at once by poolctl (0: the engine's default)")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the poolctl runs to this file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *work == "" {
		return errors.New("--work is required")
	}
	data := filepath.Join(*work, "data")
	g := gen.New(data, 1)
	t0 := time.Now()
	raw, err := g.Generate(*sizeMiB<<20, *files)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	fmt.Printf("generated %d files, %.1f MiB in %v\n", g.Files(), mib(raw), time.Since(t0).Round(time.Millisecond))

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ours, snap, err := runOurs(ctx, *work, data, *workers)
	if err != nil {
		return err
	}
	var rs *result
	if !*noRestic {
		if rs, err = runRestic(ctx, *work, data); err != nil {
			return err
		}
	}
	changed, nchanged, err := g.Mutate(0.01)
	if err != nil {
		return fmt.Errorf("mutate: %w", err)
	}
	if err := ours.incremental(ctx, snap); err != nil {
		return err
	}
	if rs != nil {
		if rs.incr, err = timeRestic(ctx, restic.New(*work), "backup", "-q", data); err != nil {
			return err
		}
	}
	report(raw, changed, nchanged, ours, rs)
	return nil
}

// cpuTime returns the user+system CPU time used by this process so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

type oursRun struct {
	result
	store       *replication.DirStore
	codec       *replication.Codec
	data        string
	target      string
	incrRestore time.Duration
	incrFiles   int
	workers     int
}

func runOurs(ctx context.Context, work, data string, workers int) (*oursRun, *replication.Manifest, error) {
	storeDir := filepath.Join(work, "ours-store")
	store, err := replication.NewDirStore(storeDir)
	if err != nil {
		return nil, nil, err
	}
	codec, err := replication.NewCodec(replication.DeriveKeys([32]byte{1, 2, 3}))
	if err != nil {
		return nil, nil, err
	}
	o := &oursRun{result: result{name: "poolctl"}, store: store, codec: codec, data: data, workers: workers,
		target: filepath.Join(work, "ours-restore", "home")}
	if err := os.MkdirAll(filepath.Dir(o.target), 0o755); err != nil {
		return nil, nil, err
	}
	unix.Sync() // every timed phase starts with no dirty data of another
	t0, c0 := time.Now(), cpuTime()
	m, st, err := replication.Snapshot(ctx, data, replication.SnapshotOptions{Store: store, Codec: codec, Workers: workers})
	if err != nil {
		return nil, nil, err
	}
	o.backup = time.Since(t0)
	fmt.Printf("poolctl snapshot: %d files, %d chunks (%d new), uploaded %.1f MiB in %v (cpu %v)\n",
		st.Files, st.ChunksTotal, st.ChunksNew, mib(st.BytesUploaded), o.backup.Round(time.Millisecond), (cpuTime() - c0).Round(time.Millisecond))
	unix.Sync()
	t0, c0 = time.Now(), cpuTime()
	if _, err := replication.Restore(ctx, m, o.target, replication.RestoreOptions{Store: store, Codec: codec, Workers: workers}); err != nil {
		return nil, nil, err
	}
	o.restore = time.Since(t0)
	fmt.Printf("poolctl restore: %v (cpu %v)\n", o.restore.Round(time.Millisecond), (cpuTime() - c0).Round(time.Millisecond))
	if o.stored, err = gen.Size(storeDir); err != nil {
		return nil, nil, err
	}
	return o, m, nil
}

func (o *oursRun) incremental(ctx context.Context, prev *replication.Manifest) error {
	unix.Sync()
	t0 := time.Now()
	m, st, err := replication.Snapshot(ctx, o.data, replication.SnapshotOptions{Store: o.store, Codec: o.codec, Previous: prev, Workers: o.workers})
	if err != nil {
		return err
	}
	o.incr = time.Since(t0)
	o.incrUp = st.BytesUploaded
	o.incrFiles = st.FilesRead
	unix.Sync()
	t0 = time.Now()
	if _, err := replication.Restore(ctx, m, o.target, replication.RestoreOptions{Store: o.store, Codec: o.codec, Previous: prev, Workers: o.workers}); err != nil {
		return err
	}
	o.incrRestore = time.Since(t0)
	return nil
}

// timeRestic runs one restic command after a sync and times it.
func timeRestic(ctx context.Context, repo restic.Repo, args ...string) (time.Duration, error) {
	unix.Sync()
	t0 := time.Now()
	if err := repo.Run(ctx, args...); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

func runRestic(ctx context.Context, work, data string) (*result, error) {
	r := &result{name: "restic"}
	repo := restic.New(work)
	if _, err := timeRestic(ctx, repo, "init", "-q"); err != nil {
		return nil, err
	}
	var err error
	if r.backup, err = timeRestic(ctx, repo, "backup", "-q", data); err != nil {
		return nil, err
	}
	if r.restore, err = timeRestic(ctx, repo, "restore", "-q", "latest", "--target", filepath.Join(work, "restic-restore")); err != nil {
		return nil, err
	}
	if r.stored, err = gen.Size(repo.Dir); err != nil {
		return nil, err
	}
	return r, nil
}

func report(raw, changed int64, nchanged int, ours *oursRun, r *result) {
	o := ours.result
	fmt.Printf("\n%-8s %12s %12s %14s %10s %12s\n", "tool", "backup MB/s", "restore MB/s", "backup+restore", "stored/raw", "incr backup")
	line := func(x result) {
		fmt.Printf("%-8s %12.1f %12.1f %14v %10.3f %12v\n", x.name, mbps(raw, x.backup), mbps(raw, x.restore),
			(x.backup + x.restore).Round(time.Millisecond), float64(x.stored)/float64(raw), x.incr.Round(time.Millisecond))
	}
	line(o)
	if r != nil {
		line(*r)
		fmt.Printf("\nfirst replication (backup+restore): poolctl %.1f MB/s, restic %.1f MB/s, ratio %.2fx\n",
			mbps(raw, o.backup+o.restore), mbps(raw, r.backup+r.restore),
			(r.backup+r.restore).Seconds()/(o.backup+o.restore).Seconds())
	}
	fmt.Printf("incremental: %d files changed (%.2f MiB); poolctl snapshot %v uploaded %.2f MiB = %.2fx changed bytes\n",
		nchanged, mib(changed), o.incr.Round(time.Millisecond), mib(o.incrUp), float64(o.incrUp)/float64(changed))
	fmt.Printf("incremental: poolctl read %d files, restore %v\n", ours.incrFiles, ours.incrRestore.Round(time.Millisecond))
}
