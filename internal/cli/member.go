package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func newMemberCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "member", Short: "Add, list, show, change and remove pool members"}
	cmd.AddCommand(memberAddCmd(g), memberListCmd(g), memberShowCmd(g), memberUpdateCmd(g),
		memberRemoveCmd(g), memberSecretCmd(g), memberMakeActiveCmd(g),
		memberRotateCredentialCmd(g), memberRevokeCmd(g), memberUpdateAgentCmd(g), memberSetProfileCmd(g))
	return cmd
}

// stackSummary renders the detected stack, e.g. "cPanel 118 / MariaDB 10.11".
func stackSummary(s api.Stack) string {
	var parts []string
	add := func(name string, c *api.Component) {
		if c == nil || !c.Detected {
			return
		}
		p := name
		if v := shortVersion(c.Version); v != "" {
			p += " " + v
		}
		if !c.Running {
			p += " (stopped)"
		}
		parts = append(parts, p)
	}
	add("cPanel", s.CPanel)
	add("OpenLiteSpeed", s.OpenLiteSpeed)
	if s.MariaDB != nil && s.MariaDB.Flavor == "mysql" {
		add("MySQL", s.MariaDB)
	} else {
		add("MariaDB", s.MariaDB)
	}
	if s.Galera != nil && s.Galera.Enabled {
		parts = append(parts, fmt.Sprintf("Galera (%d nodes)", s.Galera.ClusterSize))
	}
	add("HAProxy", s.HAProxy)
	add("Exim", s.Exim)
	add("Postfix", s.Postfix)
	add("Dovecot", s.Dovecot)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " / ")
}

// shortVersion keeps a version's major.minor: "10.11.19-MariaDB-0+deb12u1"
// becomes "10.11", "118.0.12" becomes "118.0".
func shortVersion(v string) string {
	v, _, _ = strings.Cut(v, "-")
	parts := strings.Split(v, ".")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ".")
}

func memberAddCmd(g *globals) *cobra.Command {
	var (
		in       api.MemberCreate
		lat, lon float64
		ttl      time.Duration
	)
	cmd := &cobra.Command{
		Use:     "add POOL MEMBER --address IP",
		Short:   "Add a member and print its one-time enrolment secret",
		Example: "  poolctl member add web node1 --address 203.0.113.10 --allow-ip 198.51.100.7/32",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			in.Name = args[1]
			in.SecretTTL = api.Duration(ttl)
			if cmd.Flags().Changed("lat") || cmd.Flags().Changed("lon") {
				in.Location.Lat, in.Location.Lon = &lat, &lon
			}
			res, err := c.AddMember(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "member %s added to pool %s (%s)\n\n", res.Member.Name, res.Member.Pool, res.Member.Address)
				fmt.Fprintf(w, "enrolment secret (shown once, valid until %s):\n  %s\n\n", res.SecretExpiresAt.Local().Format(time.RFC3339), res.EnrollmentSecret)
				if res.InstallCommand != "" {
					fmt.Fprintf(w, "on the server, as root, install and start the agent (poolctl agent uninstall removes it):\n  %s\n\nor by hand, with poolctl installed:\n", res.InstallCommand)
				} else {
					fmt.Fprintf(w, "on the server, run:\n")
				}
				fmt.Fprintf(w, "  poolctl agent enroll --server %s --secret %s --data /etc/poolctl-agent\n  poolctl agent --data /etc/poolctl-agent\n",
					c.BaseURL(), res.EnrollmentSecret)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Address, "address", "", "IPv4 or IPv6 address the DNS points at (required)")
	f.StringSliceVar(&in.AllowedCIDRs, "allow-ip", nil, "source address or CIDR the agent may enrol and report from (repeatable)")
	f.StringVar(&in.ProbeURL, "probe", "", "service probe: tcp://host:port or http(s)://...")
	f.StringVar(&in.Location.Text, "location", "", "location, free text")
	f.Float64Var(&lat, "lat", 0, "latitude")
	f.Float64Var(&lon, "lon", 0, "longitude")
	f.StringVar(&in.Role, "role", "", "role, free text (e.g. primary)")
	f.IntVar(&in.Priority, "priority", 0, "failover priority, lower is preferred (default 100)")
	f.BoolVar(&in.ShellEnabled, "shell-enabled", false, "allow shell.exec jobs on this member")
	f.DurationVar(&ttl, "secret-ttl", 0, "how long the enrolment secret is valid (default 24h)")
	_ = cmd.MarkFlagRequired("address")
	return cmd
}

func memberListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list POOL",
		Short: "List a pool's members with their health",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ms, err := c.ListMembers(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Member]{Items: ms}, func(w *tabwriter.Writer) {
				if len(ms) == 0 {
					fmt.Fprintf(w, "No members yet — add one with: poolctl member add %s NAME --address IP\n", args[0])
					return
				}
				row(w, "NAME", "ADDRESS", "STATUS", "ACTIVE", "LAST HEARTBEAT", "CPU", "MEM", "STACK")
				for _, m := range ms {
					cpu, mem := "-", "-"
					if m.Metrics != nil {
						cpu = fmt.Sprintf("%.0f%%", m.Metrics.CPUPercent)
						mem = fmt.Sprintf("%.0f%%", m.Metrics.MemPercent)
					}
					active := ""
					if m.Active {
						active = "*"
					}
					row(w, m.Name, m.Address, m.Status, active, ago(m.LastHeartbeatAt), cpu, mem, stackSummary(m.Stack))
				}
			})
		},
	}
}

func memberShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show POOL MEMBER",
		Short: "Show a member: health, facts, stack, metrics",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.GetMember(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return printMember(g, m)
		},
	}
}

func printMember(g *globals, m api.Member) error {
	return g.emit(m, func(w *tabwriter.Writer) {
		row(w, "name:", m.Name)
		row(w, "pool:", m.Pool)
		row(w, "address:", m.Address)
		row(w, "status:", m.Status)
		row(w, "active:", m.Active)
		row(w, "profile:", orDash(m.Profile))
		row(w, "enrolled:", m.Enrolled)
		row(w, "last heartbeat:", ago(m.LastHeartbeatAt))
		row(w, "allowed IPs:", orDash(strings.Join(m.AllowedCIDRs, ", ")))
		row(w, "probe:", orDash(m.ProbeURL))
		row(w, "priority:", m.Priority)
		row(w, "shell.exec:", m.ShellEnabled)
		if m.Location.Text != "" || m.Location.Lat != nil {
			loc := m.Location.Text
			if m.Location.Lat != nil {
				loc += fmt.Sprintf(" (%.4f, %.4f)", *m.Location.Lat, *m.Location.Lon)
			}
			row(w, "location:", strings.TrimSpace(loc))
		}
		f := m.Facts
		if f.Hostname != "" {
			row(w, "host:", fmt.Sprintf("%s — %s %s, kernel %s, %d CPUs", f.Hostname, f.Platform, f.PlatformVer, f.Kernel, f.CPUCount))
		}
		row(w, "agent:", orDash(m.AgentVersion))
		row(w, "credential:", credentialSummary(m.Credential))
		row(w, "stack:", stackSummary(m.Stack))
		if mt := m.Metrics; mt != nil {
			row(w, "cpu:", fmt.Sprintf("%.1f%%  load %.2f %.2f %.2f", mt.CPUPercent, mt.Load1, mt.Load5, mt.Load15))
			row(w, "memory:", fmt.Sprintf("%.1f%% of %d MiB", mt.MemPercent, mt.MemTotal>>20))
			for _, d := range mt.Disks {
				row(w, "disk "+d.Mount+":", fmt.Sprintf("%.1f%% of %d GiB", d.Percent, d.Total>>30))
			}
			row(w, "uptime:", (time.Duration(mt.UptimeSeconds) * time.Second).String())
		}
	})
}

func memberUpdateCmd(g *globals) *cobra.Command {
	var (
		address, probe, locText, role string
		cidrs                         []string
		lat, lon                      float64
		priority                      int
		shell                         bool
	)
	cmd := &cobra.Command{
		Use:     "update POOL MEMBER",
		Short:   "Change a member (only the flags given)",
		Example: "  poolctl member update web node1 --allow-ip 198.51.100.7/32 --probe tcp://203.0.113.10:443",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var in api.MemberUpdate
			f := cmd.Flags()
			if f.Changed("address") {
				in.Address = &address
			}
			if f.Changed("allow-ip") {
				in.AllowedCIDRs = &cidrs
			}
			if f.Changed("probe") {
				in.ProbeURL = &probe
			}
			if f.Changed("role") {
				in.Role = &role
			}
			if f.Changed("priority") {
				in.Priority = &priority
			}
			if f.Changed("shell-enabled") {
				in.ShellEnabled = &shell
			}
			if f.Changed("location") || f.Changed("lat") || f.Changed("lon") {
				cur, err := c.GetMember(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				loc := cur.Location
				if f.Changed("location") {
					loc.Text = locText
				}
				if f.Changed("lat") || f.Changed("lon") {
					loc.Lat, loc.Lon = &lat, &lon
				}
				in.Location = &loc
			}
			m, err := c.UpdateMember(cmd.Context(), args[0], args[1], in)
			if err != nil {
				return err
			}
			return printMember(g, m)
		},
	}
	f := cmd.Flags()
	f.StringVar(&address, "address", "", "IPv4 or IPv6 address")
	f.StringSliceVar(&cidrs, "allow-ip", nil, "allowed source CIDRs (replaces the list; repeatable)")
	f.StringVar(&probe, "probe", "", "service probe URL (empty to remove)")
	f.StringVar(&locText, "location", "", "location, free text")
	f.Float64Var(&lat, "lat", 0, "latitude")
	f.Float64Var(&lon, "lon", 0, "longitude")
	f.StringVar(&role, "role", "", "role")
	f.IntVar(&priority, "priority", 100, "failover priority, lower is preferred")
	f.BoolVar(&shell, "shell-enabled", false, "allow shell.exec jobs (--shell-enabled=false to forbid)")
	return cmd
}

func memberRemoveCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove POOL MEMBER",
		Short: "Remove a member; its agent is told to stop",
		Long: `Remove a member; its agent is told to stop. A member that is the pool's active
member, or the source, standby or DNS cut target of a protection, is refused
with the list of what depends on it; --force removes it anyway, deleting those
protections (copies already on a standby stay on its disk).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RemoveMember(cmd.Context(), args[0], args[1], force); err != nil {
				return err
			}
			return g.emit(map[string]string{"removed": args[1], "pool": args[0]}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "removed member %s from pool %s\n", args[1], args[0])
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove even the active member or one in a protection (deletes those protections)")
	return cmd
}

func memberSecretCmd(g *globals) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "secret POOL MEMBER",
		Short: "Create a new one-time enrolment secret (older unused ones stop working)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.NewEnrollmentSecret(cmd.Context(), args[0], args[1], ttl)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "enrolment secret for %s (shown once, valid until %s):\n  %s\n", args[1], res.SecretExpiresAt.Local().Format(time.RFC3339), res.EnrollmentSecret)
				if res.InstallCommand != "" {
					fmt.Fprintf(w, "\nto install the agent with it (add --force where one is enrolled already):\n  %s\n", res.InstallCommand)
				}
			})
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "validity (default 24h)")
	return cmd
}

func memberMakeActiveCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "make-active POOL MEMBER",
		Short: "Point the pool's failover record at MEMBER (refuses an unhealthy member unless --force)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.MakeActive(cmd.Context(), args[0], args[1], force)
			if err != nil {
				return err
			}
			return printPool(g, p)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "make an unhealthy member active anyway")
	return cmd
}

func parseID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not an ID (a positive integer)", s)
	}
	return n, nil
}
