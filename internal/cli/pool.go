package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func newPoolCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pool", Short: "Create, list, show, change and delete pools"}
	cmd.AddCommand(poolCreateCmd(g), poolListCmd(g), poolShowCmd(g), poolUpdateCmd(g), poolDeleteCmd(g), poolAckCmd(g), poolUpdateAgentsCmd(g))
	return cmd
}

func printPool(g *globals, p api.Pool) error {
	return g.emit(p, func(w *tabwriter.Writer) {
		row(w, "name:", p.Name)
		row(w, "preset:", p.Preset)
		if p.Description != "" {
			row(w, "description:", p.Description)
		}
		row(w, "members:", fmt.Sprintf("%d (%d healthy)", p.MemberCount, p.HealthyCount))
		row(w, "active member:", orDash(p.ActiveMember))
		row(w, "failover record:", orDash(p.FailoverRecord))
		if p.FailoverRecord != "" {
			row(w, "dns provider:", orBuiltin(p.DNSProvider))
		}
		row(w, "failover delay:", p.FailoverDelay)
		row(w, "ttl:", p.TTL)
		row(w, "failback:", p.Failback)
		row(w, "heartbeat timeout:", p.HeartbeatTimeout)
		row(w, "hook:", orDash(p.Hook))
		switch b := p.Banner; {
		case b.Open():
			row(w, "FAILOVER:", b.Message+" (acknowledge with `poolctl pool ack "+p.Name+"`)")
		case b != nil:
			row(w, "last failover:", b.Message+" (acknowledged by "+b.AcknowledgedBy+" at "+b.AcknowledgedAt.Format(time.RFC3339)+")")
		}
	})
}

func poolCreateCmd(g *globals) *cobra.Command {
	var (
		in             api.PoolCreate
		delay, timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create POOL",
		Short: "Create a pool",
		Example: `  poolctl pool create web
  poolctl pool create web --failover-record www.example.com --failover-delay 30s --ttl 30 --failback manual`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			in.Name = args[0]
			in.FailoverDelay, in.HeartbeatTimeout = api.Duration(delay), api.Duration(timeout)
			p, err := c.CreatePool(cmd.Context(), in)
			if err != nil {
				return err
			}
			return printPool(g, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Preset, "preset", "generic", "pool preset")
	f.StringVar(&in.Description, "description", "", "free text")
	f.StringVar(&in.FailoverRecord, "failover-record", "", "FQDN of the record that follows the active member (in a zone poolctl serves, or of --dns-provider)")
	f.StringVar(&in.DNSProvider, "dns-provider", "", "publish the failover record at this DNS provider (poolctl dns provider list; default: the built-in zones)")
	f.DurationVar(&delay, "failover-delay", 0, "silence before the record moves, 5s–600s (default 30s)")
	f.IntVar(&in.TTL, "ttl", 0, "TTL of the failover record (default 30)")
	f.StringVar(&in.Failback, "failback", "", "manual or auto (default manual)")
	f.DurationVar(&timeout, "heartbeat-timeout", 0, "silence after which a member is down (default 10s)")
	f.StringVar(&in.Hook, "hook", "", "command path or http(s) URL called after a failover")
	return cmd
}

func poolListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List pools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.ListPools(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Pool]{Items: ps}, func(w *tabwriter.Writer) {
				if len(ps) == 0 {
					fmt.Fprintln(w, "No pools yet — create one with: poolctl pool create NAME")
					return
				}
				row(w, "NAME", "PRESET", "MEMBERS", "HEALTHY", "ACTIVE", "FAILOVER RECORD", "STATE")
				for _, p := range ps {
					state := "ok"
					switch {
					case p.Banner.Open():
						state = "failed over"
					case p.HealthyCount < p.MemberCount:
						state = "degraded"
					}
					row(w, p.Name, p.Preset, p.MemberCount, p.HealthyCount, orDash(p.ActiveMember), orDash(p.FailoverRecord), state)
				}
			})
		},
	}
}

func poolShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show POOL",
		Short: "Show a pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.GetPool(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printPool(g, p)
		},
	}
}

func poolUpdateCmd(g *globals) *cobra.Command {
	var (
		desc, record, failback, hook string
		provider                     string
		delay, timeout               time.Duration
		ttl                          int
	)
	cmd := &cobra.Command{
		Use:     "update POOL",
		Short:   "Change a pool's settings (only the flags given)",
		Example: "  poolctl pool update web --failover-delay 45s --failback auto",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var in api.PoolUpdate
			f := cmd.Flags()
			if f.Changed("description") {
				in.Description = &desc
			}
			if f.Changed("failover-record") {
				in.FailoverRecord = &record
			}
			if f.Changed("dns-provider") {
				in.DNSProvider = &provider
			}
			if f.Changed("failback") {
				in.Failback = &failback
			}
			if f.Changed("hook") {
				in.Hook = &hook
			}
			if f.Changed("failover-delay") {
				d := api.Duration(delay)
				in.FailoverDelay = &d
			}
			if f.Changed("heartbeat-timeout") {
				d := api.Duration(timeout)
				in.HeartbeatTimeout = &d
			}
			if f.Changed("ttl") {
				in.TTL = &ttl
			}
			p, err := c.UpdatePool(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return printPool(g, p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&desc, "description", "", "free text")
	f.StringVar(&record, "failover-record", "", "FQDN of the failover record (empty to remove)")
	f.StringVar(&provider, "dns-provider", "", "DNS provider of the failover record (builtin or empty: the built-in zones)")
	f.DurationVar(&delay, "failover-delay", 0, "5s–600s")
	f.IntVar(&ttl, "ttl", 0, "TTL of the failover record")
	f.StringVar(&failback, "failback", "", "manual or auto")
	f.DurationVar(&timeout, "heartbeat-timeout", 0, "silence after which a member is down")
	f.StringVar(&hook, "hook", "", "post-failover command or URL (empty to remove)")
	return cmd
}

func poolDeleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete POOL",
		Short: "Delete a pool (--force when it has members: they are removed too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.DeletePool(cmd.Context(), args[0], force)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "deleted pool %s", res.Pool)
				if len(res.RemovedMembers) > 0 {
					fmt.Fprintf(w, " and its members %v", res.RemovedMembers)
				}
				fmt.Fprintln(w)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also remove the pool's members")
	return cmd
}

func poolAckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ack POOL",
		Short: "Acknowledge a pool's failover banner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.AckBanner(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printPool(g, p)
		},
	}
}
