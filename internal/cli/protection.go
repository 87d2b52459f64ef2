package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func newProtectionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "protection",
		Short: "Replicate hosting accounts to a standby member on a schedule, run and follow replications",
	}
	cmd.AddCommand(protectionCreateCmd(g), protectionListCmd(g), protectionShowCmd(g), protectionUpdateCmd(g),
		protectionPauseCmd(g, true), protectionPauseCmd(g, false), protectionDeleteCmd(g),
		protectionRunNowCmd(g), protectionReverseCmd(g), protectionRunsCmd(g), protectionLogCmd(g),
		protectionDecideCmd(g, true), protectionDecideCmd(g, false))
	return cmd
}

func protectionCreateCmd(g *globals) *cobra.Command {
	var (
		in          api.ProtectionCreate
		noDatabases bool
	)
	cmd := &cobra.Command{
		Use:   "create POOL ACCOUNT --source MEMBER --standby MEMBER",
		Short: "Protect an account: replicate it from its source member to a standby member on a schedule",
		Example: "  poolctl protection create web alice --source node1 --standby node2\n" +
			"  poolctl protection create web bob --source node1 --standby node2 --schedule 6h --records A,AAAA,MX,SRV --ttl 120",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Source == "" || in.Standby == "" {
				return fmt.Errorf("--source and --standby are required: the member the account lives on and the member that keeps its copy")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			in.Account = args[1]
			if noDatabases {
				no := false
				in.Databases = &no
			}
			p, err := c.CreateProtection(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return printProtection(g, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Source, "source", "", "member the account lives on (required)")
	f.StringVar(&in.Standby, "standby", "", "member that keeps a warm copy (required)")
	f.StringVar(&in.Schedule, "schedule", "", "cron expression (UTC) or 1h 2h 3h 4h 6h 8h 12h 1d 1w 1mo (server default 1d)")
	f.StringSliceVar(&in.Records, "records", nil, "record types cut to the standby: A, AAAA, MX, SRV (server default A,AAAA,MX)")
	f.IntVar(&in.TTL, "ttl", 0, "TTL of the cut records in seconds (server default 300)")
	f.BoolVar(&noDatabases, "no-databases", false, "replicate files and mail only, not the account's MariaDB databases")
	f.BoolVar(&in.Paused, "paused", false, "create it paused (no scheduled runs until resumed)")
	guardFlags(cmd, &in.GuardChanged, &in.GuardIncompressible)
	return cmd
}

func protectionListCmd(g *globals) *cobra.Command {
	var pool string
	cmd := &cobra.Command{
		Use:   "list [--pool POOL]",
		Short: "List protections with their last run, RPO and next run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.ListProtections(cmd.Context(), pool)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Protection]{Items: ps}, func(w *tabwriter.Writer) {
				if len(ps) == 0 {
					fmt.Fprintln(w, "No protections yet — create one with: poolctl protection create POOL ACCOUNT --source MEMBER --standby MEMBER")
					return
				}
				row(w, "POOL", "ACCOUNT", "SOURCE", "STANDBY", "SCHEDULE", "STATUS", "LAST-RUN", "RPO", "NEXT")
				for _, p := range ps {
					row(w, p.Pool, p.Account, p.Source, p.Standby, p.Schedule, statusText(p), lastRunText(p.LastRun), protectionRPO(p), nextText(p.NextRunAt))
				}
			})
		},
	}
	cmd.Flags().StringVar(&pool, "pool", "", "only this pool")
	return cmd
}

func protectionShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show POOL ACCOUNT",
		Short: "Show a protection and its last run",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.GetProtection(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return printProtection(g, p)
		},
	}
}

func protectionUpdateCmd(g *globals) *cobra.Command {
	var (
		schedule                  string
		records                   []string
		ttl                       int
		guardChanged, guardIncomp *int
	)
	cmd := &cobra.Command{
		Use:     "update POOL ACCOUNT [--schedule S] [--records TYPES] [--ttl N] [--guard-changed PCT] [--guard-incompressible PCT]",
		Short:   "Change a protection's schedule, cut records, TTL or guard thresholds (only the flags given)",
		Example: "  poolctl protection update web alice --schedule 4h --ttl 60\n  poolctl protection update web alice --guard-changed 20 --guard-incompressible 0",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in api.ProtectionUpdate
			f := cmd.Flags()
			if f.Changed("schedule") {
				in.Schedule = &schedule
			}
			if f.Changed("records") {
				in.Records = &records
			}
			if f.Changed("ttl") {
				in.TTL = &ttl
			}
			if f.Changed("guard-changed") {
				in.GuardChanged = guardChanged
			}
			if f.Changed("guard-incompressible") {
				in.GuardIncompressible = guardIncomp
			}
			if in == (api.ProtectionUpdate{}) {
				return fmt.Errorf("nothing to change: give --schedule, --records, --ttl, --guard-changed or --guard-incompressible")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.UpdateProtection(cmd.Context(), args[0], args[1], in)
			if err != nil {
				return err
			}
			return printProtection(g, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&schedule, "schedule", "", "cron expression (UTC) or 1h 2h 3h 4h 6h 8h 12h 1d 1w 1mo")
	f.StringSliceVar(&records, "records", nil, "record types cut to the standby: A, AAAA, MX, SRV")
	f.IntVar(&ttl, "ttl", 0, "TTL of the cut records in seconds")
	guardFlags(cmd, &guardChanged, &guardIncomp)
	return cmd
}

func protectionPauseCmd(g *globals, pause bool) *cobra.Command {
	use, short := "resume POOL ACCOUNT", "Resume a paused protection (it runs at its schedule's next time)"
	if pause {
		use, short = "pause POOL ACCOUNT", "Pause a protection's scheduled runs (a run in progress goes on)"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var p api.Protection
			if pause {
				p, err = c.PauseProtection(cmd.Context(), args[0], args[1])
			} else {
				p, err = c.ResumeProtection(cmd.Context(), args[0], args[1])
			}
			if err != nil {
				return err
			}
			return printProtection(g, p)
		},
	}
}

func protectionDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete POOL ACCOUNT",
		Short: "Stop protecting an account (the standby's copy is left in place)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteProtection(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return g.emit(map[string]string{"deleted": args[1], "pool": args[0]}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "account %s of pool %s is no longer protected; the standby's copy was left in place\n", args[1], args[0])
			})
		},
	}
}

func protectionRunNowCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:     "run-now POOL ACCOUNT [--follow]",
		Short:   "Start a replication run now; with --follow, stream its log and exit non-zero if it fails",
		Example: "  poolctl protection run-now web alice --follow",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if _, err := g.json(); err != nil {
				return err
			}
			run, err := c.RunProtection(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if !follow {
				return g.emit(run, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "run %d of account %s queued; follow it with:\n  poolctl protection log %s %s --run %d --follow\n", run.ID, args[1], args[0], args[1], run.ID)
				})
			}
			return followAndReport(cmd, g, c, args[0], args[1], run.ID)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the run's log with its progress until it ends")
	return cmd
}

func protectionReverseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reverse POOL ACCOUNT",
		Short: "Swap source and standby once the account's DNS points at the standby (after a failover): replicate the live copy back",
		Long: "While an account's DNS points at its standby (after a failover, or a cut by hand), the standby serves the live\n" +
			"copy and runs from the source are refused: they would overwrite it. reverse makes the standby the source and the\n" +
			"old source the standby, so that the next run copies the live account back to the old source, in full.\n" +
			"It is refused while the DNS points at the source, and while a run is in progress.",
		Example: "  poolctl protection reverse web alice\n  poolctl protection run-now web alice --follow",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.ReverseProtection(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return g.emit(p, func(w *tabwriter.Writer) {
				protectionRows(w, p)
				fmt.Fprintf(w, "\nreversed: account %s now replicates %s → %s; the next run copies it in full:\n  poolctl protection run-now %s %s --follow\n",
					p.Account, p.Source, p.Standby, p.Pool, p.Account)
			})
		},
	}
}

func protectionRunsCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs POOL ACCOUNT",
		Short: "List a protection's replication runs, newest first",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			runs, err := c.ListRuns(cmd.Context(), args[0], args[1], limit)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Run]{Items: runs}, func(w *tabwriter.Writer) {
				if len(runs) == 0 {
					fmt.Fprintf(w, "No runs yet — start one with: poolctl protection run-now %s %s --follow\n", args[0], args[1])
					return
				}
				row(w, "ID", "STATUS", "TRIGGER", "STARTED", "TOOK", "UPLOADED", "ERROR")
				for _, r := range runs {
					started := r.CreatedAt
					if r.StartedAt != nil {
						started = *r.StartedAt
					}
					uploaded := "-"
					if r.Stats != nil {
						uploaded = humanBytes(r.Stats.BytesUploaded)
					}
					row(w, r.ID, r.Status, r.Trigger, ago(&started), tookText(r), uploaded, orDash(r.Error))
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many runs (server default)")
	return cmd
}

func protectionLogCmd(g *globals) *cobra.Command {
	var (
		runID  int64
		follow bool
	)
	cmd := &cobra.Command{
		Use:     "log POOL ACCOUNT [--run ID] [--follow]",
		Short:   "Print a replication run's log: the latest run's unless --run is given",
		Example: "  poolctl protection log web alice --follow\n  poolctl protection log web alice --run 42",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runID < 0 {
				return fmt.Errorf("--run %d is not a run ID (a positive integer)", runID)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if _, err := g.json(); err != nil {
				return err
			}
			ctx := cmd.Context()
			p, err := c.GetProtection(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if runID == 0 {
				if p.LastRun == nil {
					return fmt.Errorf("account %s of pool %s has not been replicated yet; start a run with: poolctl protection run-now %s %s --follow", args[1], args[0], args[0], args[1])
				}
				runID = p.LastRun.ID
			} else {
				run, err := c.GetRun(ctx, runID)
				if err != nil {
					return err
				}
				if run.Protection != p.ID {
					return fmt.Errorf("run %d is not a run of account %s of pool %s (list them with: poolctl protection runs %s %s)", runID, args[1], args[0], args[0], args[1])
				}
			}
			if follow {
				return followAndReport(cmd, g, c, args[0], args[1], runID)
			}
			var all []api.RunLogLine
			var after int64
			for {
				lines, err := c.RunLog(ctx, runID, after, 0)
				if err != nil {
					return err
				}
				if len(lines) == 0 || lines[len(lines)-1].Seq <= after {
					break
				}
				all = append(all, lines...)
				after = lines[len(lines)-1].Seq
			}
			return g.emit(api.List[api.RunLogLine]{Items: all}, func(w *tabwriter.Writer) {
				for _, l := range all {
					fmt.Fprintln(w, logLineText(l))
				}
			})
		},
	}
	cmd.Flags().Int64Var(&runID, "run", 0, "run ID (default: the latest run)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream until the run ends; exit non-zero if it fails")
	return cmd
}

func logLineText(l api.RunLogLine) string {
	return l.Time.Local().Format("15:04:05") + "  " + l.Line
}

// statusText is a protection's status with what needs attention:
// "serving_standby, dns on node2" while the standby serves the live copy
// (runs are refused), "paused" also when paused under another status.
func statusText(p api.Protection) string {
	s := p.Status
	if p.Paused && p.Status != api.ProtectionPaused {
		s += ", paused"
	}
	if p.CutTo != "" {
		s += ", dns on " + p.CutTo
	}
	return s
}

// protectionRPO is a protection's RPO, marked when it exceeds twice the
// schedule's interval.
func protectionRPO(p api.Protection) string {
	s := rpoText(p.RPOSeconds)
	if p.RPOExceeded {
		s += " (late)"
	}
	return s
}

func lastRunText(r *api.Run) string {
	switch {
	case r == nil:
		return "-"
	case r.FinishedAt != nil:
		return r.Status + " " + ago(r.FinishedAt)
	case r.StartedAt != nil:
		return r.Status + " (started " + ago(r.StartedAt) + ")"
	}
	return r.Status
}

func nextText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	d := time.Until(*t)
	if d <= 0 {
		return "due"
	}
	return "in " + humanDuration(d)
}

// tookText is how long a run took, or has been running.
func tookText(r api.Run) string {
	if r.StartedAt == nil {
		return "-"
	}
	end := time.Now()
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return humanDuration(end.Sub(*r.StartedAt))
}

func printProtection(g *globals, p api.Protection) error {
	return g.emit(p, func(w *tabwriter.Writer) { protectionRows(w, p) })
}

// protectionRows prints a protection: its settings, where its DNS points,
// its last good copy and last run.
func protectionRows(w *tabwriter.Writer, p api.Protection) {
	row(w, "account:", fmt.Sprintf("%s (pool %s, protection %d)", p.Account, p.Pool, p.ID))
	row(w, "replicates:", p.Source+" → "+p.Standby)
	sched := p.Schedule + " (UTC)"
	if p.NextRunAt != nil {
		sched += ", next run " + nextText(p.NextRunAt)
	}
	row(w, "schedule:", sched)
	row(w, "status:", statusText(p))
	if p.CutTo != "" {
		cut := "to " + p.CutTo
		if p.CutAt != nil {
			cut += " at " + p.CutAt.UTC().Format(time.RFC3339)
		}
		if p.CutReason != "" {
			cut += " " + p.CutReason
		}
		row(w, "dns cut:", cut)
	}
	if p.Blocked != "" {
		row(w, "runs refused:", p.Blocked)
	}
	if p.ReversedAt != nil {
		row(w, "reversed:", p.ReversedAt.Local().Format("2006-01-02 15:04:05"))
	}
	row(w, "records cut:", fmt.Sprintf("%s, ttl %d", orDash(strings.Join(p.Records, " ")), p.TTL))
	row(w, "databases:", map[bool]string{true: "replicated", false: "not replicated"}[p.Databases])
	row(w, "guard:", guardText(p))
	good := "never"
	if p.LastGoodAt != nil {
		good = p.LastGoodAt.Local().Format("2006-01-02 15:04:05")
	}
	row(w, "last good copy:", good)
	row(w, "RPO:", protectionRPO(p))
	if r := p.LastRun; r != nil {
		runRows(w, "last run:", *r)
	}
}

// runRows prints a run: its outcome, then what its snapshot and restore did.
func runRows(w *tabwriter.Writer, title string, r api.Run) {
	head := fmt.Sprintf("%d %s (%s)", r.ID, r.Status, r.Trigger)
	if r.FinishedAt != nil {
		head += ", finished " + ago(r.FinishedAt)
	} else if r.StartedAt != nil {
		head += ", started " + ago(r.StartedAt)
	}
	if r.StartedAt != nil {
		head += ", took " + tookText(r)
	}
	row(w, title, head)
	if r.Error != "" {
		row(w, "  error:", r.Error)
	}
	guardRows(w, r)
	s := r.Stats
	if s == nil {
		return
	}
	row(w, "  snapshot:", fmt.Sprintf("%d files (%d read, %d unchanged), %s read; chunks %d new, %d reused; %s new, %s uploaded; %s",
		s.Files, s.FilesRead, s.FilesReused, humanBytes(s.BytesRead), s.ChunksNew, s.ChunksReused,
		humanBytes(s.BytesNew), humanBytes(s.BytesUploaded), msText(s.SnapshotMS)))
	if s.Databases > 0 || s.DBUsers > 0 {
		row(w, "  databases:", fmt.Sprintf("%d databases, %d users", s.Databases, s.DBUsers))
	}
	row(w, "  restore:", fmt.Sprintf("chunks %d fetched, %d from the standby's copy; %s fetched, %s written, %d files linked; %s",
		s.ChunksFetched, s.ChunksLocal, humanBytes(s.BytesFetched), humanBytes(s.BytesWritten), s.FilesLinked, msText(s.RestoreMS)))
	if s.ManifestFiles > 0 {
		row(w, "  copy:", fmt.Sprintf("%d files, %s in %d chunks", s.ManifestFiles, humanBytes(s.ManifestBytes), s.ManifestChunks))
	}
	row(w, "  total:", fmt.Sprintf("%s; %d transient chunks deleted", msText(s.TotalMS), s.ChunksDeleted))
}

// msText renders milliseconds: "850ms" below a second, else humanDuration.
func msText(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	if ms < 60_000 {
		return fmt.Sprintf("%.1fs", float64(ms)/1000)
	}
	return humanDuration(time.Duration(ms) * time.Millisecond)
}
