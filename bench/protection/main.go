// Command protection benchmarks account protection end to end, the way an
// operator runs it, against restic on the same data in the same run.
//
// It starts `poolctl server` (TLS with its own CA; the object store is
// DATA/objects) and two real `poolctl agent` processes, src and stb, each
// with `--accounts linux` and its own accounts root; generates an account
// of hosting-like files on src (bench/internal/gen: 1 GiB in 34,000 files
// by default) and protects it to stb. Each run is `poolctl protection
// run-now bench bench1 --follow`, timed from start to exit: the source
// agent snapshots the account and uploads its chunks through the HTTPS API
// into the server's object store, the standby agent fetches them, restores
// into a staging directory and swaps it in, the server removes the chunks.
// Measured: the first run, then an incremental run after 1 % of the files
// changed; for each, the run's own figures (`protection show`), the object
// store's size when the snapshot had ended (the peak: chunks are transient),
// the CPU time of each process, and a timeline from the run's log. The
// standby's copy is compared with the source, file by file, after each run.
// restic (`init`, `backup`, `restore` to a local repository, then the
// incremental `backup`) runs on the same data between the two.
//
// Page caches are dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before
// each timed step when this process may (the report says whether it did).
//
//	./bench/protection.sh [size-MiB] [files]
//	go run ./bench/protection --work DIR --size-mib 200 --files 6800 --binary DIR/poolctl
//
// Everything listens on 127.0.0.1; the processes started here are stopped
// on exit, and the whole run is bounded by --timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/bench/internal/gen"
	"github.com/poolctl/poolctl/bench/internal/restic"
	"golang.org/x/sys/unix"
)

const account = "bench1"

type options struct {
	work, binary string
	sizeMiB      int64
	files        int
	objects      string // the server's --objects directory; default DATA/objects
	noRestic     bool
	noDrop       bool
	profile      bool
	timeout      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.work, "work", "", "work directory (required; needs about 5x the data size free)")
	flag.StringVar(&o.binary, "binary", "", "poolctl binary, built without -race (default WORK/poolctl)")
	flag.Int64Var(&o.sizeMiB, "size-mib", 1024, "data size in MiB")
	flag.IntVar(&o.files, "files", 34000, "approximate number of files")
	flag.BoolVar(&o.noRestic, "no-restic", false, "skip restic")
	flag.StringVar(&o.objects, "objects", "", "the server's object store directory (--objects; default WORK/server/objects); e.g. on tmpfs to see what fsync costs")
	flag.BoolVar(&o.noDrop, "keep-caches", false, "do not drop the page caches before timed steps (warm-cache figures)")
	flag.BoolVar(&o.profile, "profile", false,
		"write CPU profiles WORK/server.cpu.pprof and WORK/agent-{src,stb}.cpu.pprof (agents: build --binary from ./bench/protection/profiled)")
	flag.DurationVar(&o.timeout, "timeout", 90*time.Minute, "bound on the whole benchmark")
	flag.Parse()
	if o.work == "" || o.sizeMiB < 1 || o.files < 1 {
		fmt.Fprintln(os.Stderr, "protection bench: --work is required; --size-mib and --files must be positive")
		os.Exit(2)
	}
	if o.binary == "" {
		o.binary = filepath.Join(o.work, "poolctl")
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "protection bench:", err)
		os.Exit(1)
	}
}

// bench holds what the steps share.
type bench struct {
	o    options
	cl   *cluster
	home string // the account on the source
	copy string // the account on the standby
}

func run(ctx context.Context, o options) error {
	if !o.noRestic {
		v, err := restic.Version(ctx)
		if err != nil {
			return fmt.Errorf("%w (install restic or pass --no-restic)", err)
		}
		fmt.Print(v)
	}
	host, _ := os.Hostname()
	var load [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscan(string(b), &load[0], &load[1], &load[2])
	}
	fmt.Printf("host %s, %s, load average %.2f %.2f %.2f\n", host, time.Now().Format(time.RFC3339), load[0], load[1], load[2])

	cl, err := startCluster(ctx, o)
	if err != nil {
		return err
	}
	defer cl.stop()
	b := &bench{o: o, cl: cl, home: filepath.Join(cl.roots["src"], account), copy: filepath.Join(cl.roots["stb"], account)}

	g := gen.New(b.home, 1)
	t0 := time.Now()
	raw, err := g.Generate(o.sizeMiB<<20, o.files)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	man := fmt.Sprintf(`{"domains":[%q]}`, account+".test")
	if err := os.WriteFile(filepath.Join(b.home, ".poolctl-account.json"), []byte(man), 0o644); err != nil {
		return err
	}
	fmt.Printf("generated %d files, %.1f MiB in %v\n", g.Files(), mib(raw), time.Since(t0).Round(time.Millisecond))

	if _, err := cl.cli(ctx, "protection", "create", pool, account, "--source", "src", "--standby", "stb", "--no-databases"); err != nil {
		return err
	}
	first, err := b.replicate(ctx, "first")
	if err != nil {
		return err
	}
	if err := b.verify(); err != nil {
		return err
	}
	var rs *resticResult
	if !o.noRestic {
		if rs, err = b.resticFirst(ctx); err != nil {
			return err
		}
	}

	changed, nchanged, err := g.Mutate(0.01)
	if err != nil {
		return fmt.Errorf("mutate: %w", err)
	}
	fmt.Printf("\nchanged %d files (%.2f MiB)\n", nchanged, mib(changed))
	incr, err := b.replicate(ctx, "incremental")
	if err != nil {
		return err
	}
	if err := b.verify(); err != nil {
		return err
	}
	if rs != nil {
		if rs.incr, rs.incrDropped, err = b.timed(func() error { return restic.New(o.work).Run(ctx, "backup", "-q", b.home) }); err != nil {
			return err
		}
		fmt.Printf("restic incremental backup: %v\n", rs.incr.Round(time.Millisecond))
	}
	report(raw, changed, nchanged, first, incr, rs)
	return nil
}

// dropCaches writes dirty pages out and, when allowed and not
// --keep-caches, drops the page cache, so that a timed step reads its input
// from disk. It reports whether the caches were dropped.
func (b *bench) dropCaches() bool {
	unix.Sync()
	if b.o.noDrop {
		return false
	}
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o644) == nil
}

// timed runs f after dropCaches and returns how long it took.
func (b *bench) timed(f func() error) (time.Duration, bool, error) {
	dropped := b.dropCaches()
	t0 := time.Now()
	err := f()
	return time.Since(t0), dropped, err
}

// runResult is one replication run as measured here and as the run
// reports itself.
type runResult struct {
	label   string
	wall    time.Duration // run-now --follow, start to exit
	dropped bool
	stats   api.RunStats
	// peakObjects is the size of the object store when the run was first
	// seen restoring (all chunks uploaded, none removed yet); -1 when the
	// run was never seen in that state.
	peakObjects int64
	cpu         map[string]time.Duration // by process, during the run
}

// replicate runs `protection run-now --follow` and gathers its figures.
func (b *bench) replicate(ctx context.Context, label string) (runResult, error) {
	res := runResult{label: label, peakObjects: -1}
	p, err := b.cl.c.GetProtection(ctx, pool, account)
	if err != nil {
		return res, err
	}
	var prevRun int64
	if p.LastRun != nil {
		prevRun = p.LastRun.ID
	}
	logPath := filepath.Join(b.o.work, "run-"+label+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return res, err
	}
	defer logf.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, b.cl.bin, "protection", "run-now", pool, account, "--follow")
	cmd.Env = append(os.Environ(), b.cl.env...)
	cmd.Stdout, cmd.Stderr = logf, logf

	res.dropped = b.dropCaches()
	cpu0 := b.cl.cpu()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan struct{})
	peak := make(chan int64, 1)
	go func() { peak <- b.watchPeak(rctx, prevRun, exited) }()
	err = cmd.Wait()
	res.wall = time.Since(t0)
	close(exited)
	res.peakObjects = <-peak
	cpu1 := b.cl.cpu()
	res.cpu = map[string]time.Duration{"run-now CLI": cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	for k, v := range cpu1 {
		res.cpu[k] = v - cpu0[k]
	}
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return res, fmt.Errorf("%s run: %w\n%s", label, err, tail(string(out), 30))
	}
	if err := b.cl.cliJSON(ctx, &p, "protection", "show", pool, account); err != nil {
		return res, err
	}
	if p.LastRun == nil || p.LastRun.ID == prevRun || p.LastRun.Status != api.RunSucceeded || p.LastRun.Stats == nil {
		return res, fmt.Errorf("%s run: protection show has no new successful run: %+v", label, p.LastRun)
	}
	res.stats = *p.LastRun.Stats
	fmt.Printf("\n%s run %d: %v end to end (caches dropped: %v)\n", label, p.LastRun.ID, res.wall.Round(time.Millisecond), res.dropped)
	b.timeline(ctx, p.LastRun.ID, t0)
	st := res.stats
	fmt.Printf("  stats: snapshot %d ms, restore %d ms, total %d ms; read %.1f MiB of %d files (%d read), %d chunks (%d new), uploaded %.1f MiB, fetched %.1f MiB, written %.1f MiB, %d chunks deleted\n",
		st.SnapshotMS, st.RestoreMS, st.TotalMS, mib(st.BytesRead), st.Files, st.FilesRead, st.ChunksTotal, st.ChunksNew,
		mib(st.BytesUploaded), mib(st.BytesFetched), mib(st.BytesWritten), st.ChunksDeleted)
	fmt.Printf("  cpu:")
	for _, k := range []string{"agent src", "server", "agent stb", "run-now CLI"} {
		fmt.Printf(" %s %v,", k, res.cpu[k].Round(10*time.Millisecond))
	}
	fmt.Printf(" (wall %v)\n", res.wall.Round(10*time.Millisecond))
	if res.peakObjects >= 0 {
		fmt.Printf("  object store when the snapshot had ended: %.1f MiB\n", mib(res.peakObjects))
	}
	return res, nil
}

// watchPeak polls the protection until the run after prevRun is restoring,
// then returns the size of the object store (-1 if the run ended first or
// the CLI exited).
func (b *bench) watchPeak(ctx context.Context, prevRun int64, exited <-chan struct{}) int64 {
	for {
		p, err := b.cl.c.GetProtection(ctx, pool, account)
		if err == nil && p.LastRun != nil && p.LastRun.ID != prevRun {
			switch p.LastRun.Status {
			case api.RunRestore:
				n, err := gen.Size(b.cl.objects)
				if err != nil {
					return -1
				}
				return n
			case api.RunSucceeded, api.RunFailed:
				return -1
			}
		}
		select {
		case <-exited:
			return -1
		case <-ctx.Done():
			return -1
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// timeline prints the run's log lines, but for the periodic progress
// lines, with their time since the CLI started.
func (b *bench) timeline(ctx context.Context, run int64, t0 time.Time) {
	var after int64
	for range 100 { // bounded: 100 pages of the log
		lines, err := b.cl.c.RunLog(ctx, run, after, 0)
		if err != nil || len(lines) == 0 {
			return
		}
		for _, l := range lines {
			if !strings.Contains(l.Line, ": progress (") {
				fmt.Printf("  %+8.3fs  %s\n", l.Time.Sub(t0).Seconds(), l.Line)
			}
		}
		if lines[len(lines)-1].Seq <= after {
			return
		}
		after = lines[len(lines)-1].Seq
	}
}

// verify compares the standby's copy with the source, file by file.
func (b *bench) verify() error {
	t0 := time.Now()
	src, err := gen.Describe(b.home)
	if err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	stb, err := gen.Describe(b.copy)
	if err != nil {
		return fmt.Errorf("read the standby's copy: %w", err)
	}
	if d := gen.Diff(src, stb, 10); len(d) > 0 {
		return fmt.Errorf("the standby's copy differs from the source:\n  %s", strings.Join(d, "\n  "))
	}
	fmt.Printf("  verified: the standby's copy equals the source (%d files, %d dirs, %.1f MiB, SHA-256 of every file; %v)\n",
		src.Files, src.Dirs, mib(src.Bytes), time.Since(t0).Round(time.Millisecond))
	return nil
}

type resticResult struct {
	backup, restore time.Duration
	dropped         bool
	stored          int64
	incr            time.Duration
	incrDropped     bool
}

// resticFirst is restic's first replication: init, then backup and restore
// timed as one step like poolctl's run (caches dropped before the backup;
// the restore reads the repository it just wrote, as the standby reads
// chunks the server just stored).
func (b *bench) resticFirst(ctx context.Context) (*resticResult, error) {
	repo := restic.New(b.o.work)
	if err := repo.Run(ctx, "init", "-q"); err != nil {
		return nil, err
	}
	r := &resticResult{}
	var err error
	if r.backup, r.dropped, err = b.timed(func() error { return repo.Run(ctx, "backup", "-q", b.home) }); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := repo.Run(ctx, "restore", "-q", "latest", "--target", filepath.Join(b.o.work, "restic-restore")); err != nil {
		return nil, err
	}
	r.restore = time.Since(t0)
	if r.stored, err = gen.Size(repo.Dir); err != nil {
		return nil, err
	}
	fmt.Printf("\nrestic: backup %v, restore %v (caches dropped: %v), repository %.1f MiB\n",
		r.backup.Round(time.Millisecond), r.restore.Round(time.Millisecond), r.dropped, mib(r.stored))
	return r, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
