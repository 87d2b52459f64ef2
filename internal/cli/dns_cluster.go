package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

// newDNSCmd is `poolctl dns`: the DNS cluster and the DNS providers.
func newDNSCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dns", Short: "The DNS cluster: other nameservers that serve this server's zones"}
	cl := &cobra.Command{
		Use:   "cluster",
		Short: "Push this server's zones to other poolctl servers and dns-nodes",
		Long: `The DNS cluster shares zones between poolctl servers and dns-nodes. Every zone
change made here goes at once, whole (zone file and serial), to each member this
server writes to; every 30 s (--dns-cluster-reconcile) each member is compared with
this server, so one that was offline catches up by itself (a failing member is
retried after 1 s, 2 s, 4 s ... so it is current seconds after it returns).

Roles, from this server's view of a member:
  sync        changes made here go there, and its changes are fetched back
  write-only  this server writes its zones there and never reads from it
  standalone  this server fetches its zones and never writes there

A zone changed on both sides since they last agreed, or one another server writes
too, is a conflict: both versions are kept, nothing is overwritten, it is an event
and it is listed (conflicts) until you choose a side (resolve ID --keep local|remote).
After --threshold consecutive failed operations (default 10) a member is disabled
(an event) until enable-member, which resynchronises it.

On each member make a token of scope cluster: poolctl token create NAME --scope cluster.`,
		Example: `  poolctl dns cluster enable
  poolctl dns cluster add ns2.example.net --url https://ns2.example.net:8443 --token pat_... --ca ns2-ca.pem --role sync
  poolctl dns cluster list
  poolctl dns cluster conflicts
  poolctl dns cluster resolve 3 --keep local
  poolctl dns cluster log ns2.example.net
  poolctl dns cluster resync ns2.example.net`,
	}
	cl.AddCommand(clusterSwitchCmd(g, "enable", true), clusterSwitchCmd(g, "disable", false), clusterStatusCmd(g), clusterSetCmd(g),
		clusterAddCmd(g), clusterListCmd(g), clusterRoleCmd(g), clusterRemoveCmd(g), clusterEnableMemberCmd(g), clusterResyncCmd(g),
		clusterEditCmd(g), clusterLogCmd(g), clusterConflictsCmd(g), clusterConflictCmd(g), clusterResolveCmd(g))
	cmd.AddCommand(cl, newDNSProviderCmd(g))
	return cmd
}

func printClusterSettings(g *globals, s api.ClusterSettings) error {
	return g.emit(s, func(w *tabwriter.Writer) {
		state, thr := "disabled", "keep every member online"
		if s.Enabled {
			state = "enabled"
		}
		if s.FailureThreshold > 0 {
			thr = fmt.Sprintf("disable a member after %d consecutive failed operations", s.FailureThreshold)
		}
		fmt.Fprintf(w, "DNS cluster: %s\nfailure threshold: %s\n", state, thr)
	})
}

func clusterSwitchCmd(g *globals, use string, on bool) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: map[bool]string{true: "Switch the DNS cluster on: changes go to its members", false: "Switch the DNS cluster off: nothing is sent to its members"}[on],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			s, err := c.UpdateDNSCluster(cmd.Context(), api.ClusterSettingsUpdate{Enabled: &on})
			if err != nil {
				return err
			}
			return printClusterSettings(g, s)
		},
	}
}

func clusterStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether the DNS cluster is on and its failure threshold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			s, err := c.DNSCluster(cmd.Context())
			if err != nil {
				return err
			}
			return printClusterSettings(g, s)
		},
	}
}

func clusterSetCmd(g *globals) *cobra.Command {
	var threshold int
	cmd := &cobra.Command{
		Use:   "set --threshold N",
		Short: "Set the failure threshold (0 keeps every member online)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("threshold") {
				return fmt.Errorf("give --threshold N (1-1000 consecutive failed operations, or 0 to keep every member online)")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			s, err := c.UpdateDNSCluster(cmd.Context(), api.ClusterSettingsUpdate{FailureThreshold: &threshold})
			if err != nil {
				return err
			}
			return printClusterSettings(g, s)
		},
	}
	cmd.Flags().IntVar(&threshold, "threshold", 10, "consecutive failed operations that disable a member; 0 keeps every member online")
	return cmd
}

func printClusterMember(w *tabwriter.Writer, m api.ClusterMember) {
	row(w, clusterMemberHeader...)
	clusterMemberRow(w, m)
}

var clusterMemberHeader = []any{"HOST", "URL", "ROLE", "BACKEND", "VERSION", "STATUS", "ZONES", "LAG", "CONFLICTS", "LAST OK", "LAST ERROR"}

func clusterMemberRow(w *tabwriter.Writer, m api.ClusterMember) {
	status := m.Status
	if m.Failures > 0 {
		status += fmt.Sprintf(" (%d failed)", m.Failures)
	}
	version := orDash(m.Version)
	if m.Node != "" {
		version += " " + m.Node
	}
	lastOK := "-"
	if m.LastOKAt != nil {
		lastOK = m.LastOKAt.Local().Format("2006-01-02 15:04:05")
	}
	row(w, m.Host, m.URL, m.Role, m.Backend, version, status, m.Zones, m.Lag, m.Conflicts, lastOK, orDash(m.LastError))
}

func clusterAddCmd(g *globals) *cobra.Command {
	var in api.ClusterMemberCreate
	var caFile string
	var reverse bool
	var self api.ClusterReverseTrust
	cmd := &cobra.Command{
		Use:   "add HOST --url URL --token TOKEN --role sync|write-only|standalone [--backend poolctl|powerdns] [--ca PEM] [--reverse-trust --self-host NAME --self-url URL] [--debug]",
		Short: "Add a member after checking its address, certificate, token and version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Host = args[0]
			if reverse {
				if self.Host == "" || self.URL == "" {
					return fmt.Errorf("--reverse-trust needs --self-host (this server's name there) and --self-url (this server's API as the member reaches it)")
				}
				in.ReverseTrust = &self
			}
			if caFile != "" {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--ca: %w", err)
				}
				in.CA = string(b)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.AddClusterMember(cmd.Context(), in)
			if err != nil {
				return err
			}
			return g.emit(m, func(w *tabwriter.Writer) { printClusterMember(w, m) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.URL, "url", "", "the member's API, https://HOST:PORT (required)")
	f.StringVar(&in.Token, "token", "", "a token of scope cluster made on the member (required)")
	f.StringVar(&caFile, "ca", "", "PEM file of the member's CA (its DATA/ca.pem) when its certificate is self-signed")
	f.StringVar(&in.Role, "role", api.ClusterRoleWriteOnly, "sync (both ways), write-only (this server writes its zones there) or standalone (this server fetches its zones)")
	f.BoolVar(&reverse, "reverse-trust", false, "also make the member (a poolctl server) know this server, as standalone: it fetches this server's zones")
	f.StringVar(&self.Host, "self-host", "", "with --reverse-trust: this server's name on the member, e.g. ns1.example.net")
	f.StringVar(&self.URL, "self-url", "", "with --reverse-trust: this server's API as the member reaches it, https://HOST:PORT")
	f.BoolVar(&in.Debug, "debug", false, "log every operation with the member (dns cluster log HOST), not only changes and failures")
	f.StringVar(&in.Backend, "backend", "poolctl", "poolctl (another poolctl server or dns-node) or powerdns (a PowerDNS Authoritative server: --url its webserver, http://HOST:8081, --token its api-key)")
	_ = cmd.MarkFlagRequired("url")
	_ = cmd.MarkFlagRequired("token")
	return cmd
}

func clusterListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the members with their role, version, status and last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ms, err := c.ClusterMembers(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(api.List[api.ClusterMember]{Items: ms}, func(w *tabwriter.Writer) {
				if len(ms) == 0 {
					fmt.Fprintln(w, "no DNS cluster member: add one with poolctl dns cluster add")
					return
				}
				row(w, clusterMemberHeader...)
				for _, m := range ms {
					clusterMemberRow(w, m)
				}
			})
		},
	}
}

func clusterRoleCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "role HOST ROLE",
		Short: "Change a member's role in place",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.UpdateClusterMember(cmd.Context(), args[0], api.ClusterMemberUpdate{Role: &args[1]})
			if err != nil {
				return err
			}
			return g.emit(m, func(w *tabwriter.Writer) { printClusterMember(w, m) })
		},
	}
}

func clusterRemoveCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove HOST",
		Short: "Stop sending zones to a member; zones that exist only there are listed first and need --force",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.RemoveClusterMember(cmd.Context(), args[0], force)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "removed DNS cluster member %s\n", res.Host)
				if len(res.LoneZones) > 0 {
					fmt.Fprintf(w, "zones that existed only there: %s\n", strings.Join(res.LoneZones, ", "))
				}
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove it even when zones exist only there, or it cannot be reached")
	return cmd
}

func clusterEnableMemberCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "enable-member HOST",
		Short: "Enable a member the failure threshold disabled, and resynchronise it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.EnableClusterMember(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(m, func(w *tabwriter.Writer) { printClusterMember(w, m) })
		},
	}
}

func clusterResyncCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resync [HOST]",
		Short: "Compare one member, or all, at once: zones sent again where written, changes fetched where read",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := ""
			if len(args) == 1 {
				host = args[0]
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.ResyncCluster(cmd.Context(), host)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "resynchronised %s: %d zone(s) written or fetched\n", orDash(strings.Join(res.Members, ", ")), res.Zones)
			})
		},
	}
}
