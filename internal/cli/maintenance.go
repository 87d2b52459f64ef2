package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func newMaintenanceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Maintenance windows: alerts muted and, optionally, failover paused",
		Example: `  poolctl maintenance start web node1 --for 2h --reason "kernel upgrade" --pause-failover
  poolctl maintenance start web --cron "0 3 * * 0" --for 1h
  poolctl maintenance stop web node1
  poolctl maintenance list`,
	}
	var in api.MaintenanceStart
	var dur time.Duration
	start := &cobra.Command{
		Use:   "start POOL [MEMBER] --for DURATION [--cron EXPR] [--reason TEXT] [--pause-failover]",
		Short: "Start a window now (or schedule one with --cron, UTC)", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				in.Member = args[1]
			}
			in.For = api.Duration(dur)
			w, err := c.StartMaintenance(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return printWindows(g, []api.MaintenanceWindow{w}, w)
		},
	}
	start.Flags().DurationVar(&dur, "for", 0, "how long the window lasts (each activation, with --cron); required")
	start.Flags().StringVar(&in.Cron, "cron", "", `a schedule in UTC (minute hour day month weekday, e.g. "0 3 * * 0")`)
	start.Flags().StringVar(&in.Reason, "reason", "", "why, shown with the window")
	start.Flags().BoolVar(&in.PauseFailover, "pause-failover", false, "the failover engine does not move the record away from what the window covers")
	_ = start.MarkFlagRequired("for")
	stop := &cobra.Command{
		Use: "stop POOL [MEMBER]", Short: "End the pool's (or member's) windows now and remove its scheduled ones", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			member := ""
			if len(args) == 2 {
				member = args[1]
			}
			res, err := c.StopMaintenance(cmd.Context(), args[0], member)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%d window(s) stopped\n", res.Stopped) })
		},
	}
	var pool string
	list := &cobra.Command{
		Use: "list [--pool POOL]", Short: "Windows open or to come", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ws, err := c.ListMaintenance(cmd.Context(), pool)
			if err != nil {
				return err
			}
			return printWindows(g, ws, ws)
		},
	}
	list.Flags().StringVar(&pool, "pool", "", "only this pool's windows")
	cmd.AddCommand(start, stop, list)
	return cmd
}

func printWindows(g *globals, ws []api.MaintenanceWindow, out any) error {
	return g.emit(out, func(w *tabwriter.Writer) {
		row(w, "ID", "POOL", "MEMBER", "STATE", "SCHEDULE", "FAILOVER", "REASON")
		for _, m := range ws {
			state := "not open"
			switch {
			case m.Active && m.Until != nil:
				state = "in maintenance until " + m.Until.UTC().Format(time.RFC3339)
			case m.NextAt != nil:
				state = "next " + m.NextAt.UTC().Format(time.RFC3339)
			}
			sched := "once, " + time.Duration(m.For).String()
			if m.Cron != "" {
				sched = m.Cron + " UTC, " + time.Duration(m.For).String()
			}
			fo := "on"
			if m.PauseFailover {
				fo = "paused"
			}
			row(w, m.ID, m.Pool, orDash(m.Member), state, sched, fo, orDash(m.Reason))
		}
	})
}
