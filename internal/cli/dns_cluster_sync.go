package cli

import (
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

// The DNS cluster's members edited in place, their operation logs, and
// conflicts.

func clusterEditCmd(g *globals) *cobra.Command {
	var (
		in           api.ClusterMemberUpdate
		url, token   string
		caFile, role string
		debug        bool
	)
	cmd := &cobra.Command{
		Use:   "edit HOST [--url URL] [--token TOKEN] [--ca PEM] [--role ROLE] [--debug=true|false]",
		Short: "Change a member in place; a new URL, token or CA is checked against it first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("url") {
				in.URL = &url
			}
			if f.Changed("token") {
				in.Token = &token
			}
			if f.Changed("ca") {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--ca: %w", err)
				}
				ca := string(b)
				in.CA = &ca
			}
			if f.Changed("role") {
				in.Role = &role
			}
			if f.Changed("debug") {
				in.Debug = &debug
			}
			if in == (api.ClusterMemberUpdate{}) {
				return fmt.Errorf("nothing to change: give --url, --token, --ca, --role or --debug")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.UpdateClusterMember(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return g.emit(m, func(w *tabwriter.Writer) { printClusterMember(w, m) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "the member's API, https://HOST:PORT")
	f.StringVar(&token, "token", "", "a new token of scope cluster made on the member")
	f.StringVar(&caFile, "ca", "", "PEM file of the member's CA")
	f.StringVar(&role, "role", "", "sync, write-only or standalone")
	f.BoolVar(&debug, "debug", false, "log every operation with the member")
	return cmd
}

func clusterLogCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "log HOST [--limit N]",
		Short: "A member's latest operations, newest first (every one with --debug on the member)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			es, err := c.ClusterLog(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.ClusterLogEntry]{Items: es}, func(w *tabwriter.Writer) {
				if len(es) == 0 {
					fmt.Fprintln(w, "no operation logged yet (only changes and failures are, unless the member has --debug)")
					return
				}
				row(w, "AT", "OP", "ZONE", "SERIAL", "OK", "TOOK", "MESSAGE")
				for _, e := range es {
					serial := "-"
					if e.Serial != 0 {
						serial = strconv.FormatUint(uint64(e.Serial), 10)
					}
					row(w, e.At.Local().Format("2006-01-02 15:04:05"), e.Op, orDash(e.Zone), serial, e.OK, fmt.Sprintf("%d ms", e.TookMS), orDash(e.Message))
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "how many entries (at most 1000)")
	return cmd
}

func clusterConflictsCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "conflicts [--all]",
		Short: "Zones in conflict with a member: both versions kept, nothing overwritten",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cs, err := c.ClusterConflicts(cmd.Context(), all)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.ClusterConflict]{Items: cs}, func(w *tabwriter.Writer) {
				if len(cs) == 0 {
					fmt.Fprintln(w, "no DNS cluster conflict")
					return
				}
				row(w, "ID", "ZONE", "MEMBER", "KIND", "SERIAL HERE", "SERIAL THERE", "DETECTED", "RESOLUTION")
				for _, cf := range cs {
					row(w, cf.ID, cf.Zone, cf.Member, cf.Kind, cf.LocalSerial, cf.RemoteSerial, cf.DetectedAt.Local().Format("2006-01-02 15:04:05"), orDash(cf.Resolution))
				}
				fmt.Fprintln(w, "\nshow both versions: poolctl dns cluster conflict ID; choose one: poolctl dns cluster resolve ID --keep local|remote")
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "resolved conflicts too")
	return cmd
}

func conflictArg(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("conflict %q: want the ID `poolctl dns cluster conflicts` shows", s)
	}
	return id, nil
}

func clusterConflictCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "conflict ID",
		Short: "Show a conflict with both versions of the zone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := conflictArg(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			cf, err := c.ClusterConflict(cmd.Context(), id)
			if err != nil {
				return err
			}
			return g.emit(cf, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "conflict %d: zone %s with %s (%s)\n%s\n", cf.ID, cf.Zone, cf.Member, cf.Kind, cf.Message)
				fmt.Fprintf(w, "\n--- here (serial %d)\n%s\n--- on %s (serial %d)\n%s\n", cf.LocalSerial, orNone(cf.LocalText), cf.Member, cf.RemoteSerial, orNone(cf.RemoteText))
			})
		},
	}
}

func orNone(text string) string {
	if text == "" {
		return "(the zone does not exist on this side)"
	}
	return text
}

func clusterResolveCmd(g *globals) *cobra.Command {
	var keep string
	cmd := &cobra.Command{
		Use:   "resolve ID --keep local|remote",
		Short: "Resolve a conflict: keep this server's version (local) or the member's (remote)",
		Long: `Keep local: this server's version of the zone (or its deletion) is written to the
member with a serial above both, and this server becomes its writer there.
Keep remote: the member's version (or its deletion) is taken here with a serial
above both, so that it reaches every member; for a zone another server writes on
that member, this server stops writing it there instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := conflictArg(args[0])
			if err != nil {
				return err
			}
			if keep != "local" && keep != "remote" {
				return fmt.Errorf("give --keep local (this server's version) or --keep remote (the member's)")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			cf, err := c.ResolveClusterConflict(cmd.Context(), id, keep)
			if err != nil {
				return err
			}
			return g.emit(cf, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "conflict %d on zone %s with %s resolved: %s\n", cf.ID, cf.Zone, cf.Member, cf.Resolution)
			})
		},
	}
	cmd.Flags().StringVar(&keep, "keep", "", "local or remote (required)")
	return cmd
}
