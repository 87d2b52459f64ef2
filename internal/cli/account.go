package cli

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func newAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "List the hosting accounts on members and cut their DNS to another member"}
	cmd.AddCommand(accountListCmd(g), accountCutDNSCmd(g), accountDistributeCmd(g), accountDedistributeCmd(g))
	return cmd
}

func accountListCmd(g *globals) *cobra.Command {
	var refresh bool
	cmd := &cobra.Command{
		Use:     "list POOL MEMBER",
		Short:   "List the hosting accounts the member's agent discovered, with their protection and RPO",
		Example: "  poolctl account list web node1 --refresh",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if _, err := g.json(); err != nil {
				return err
			}
			al, err := c.Accounts(cmd.Context(), args[0], args[1], refresh)
			if err != nil {
				return err
			}
			if al.Stale || al.Error != "" {
				fmt.Fprintln(g.stderr, "warning: "+staleText(args[1], al))
			}
			return g.emit(al, func(w *tabwriter.Writer) {
				if len(al.Items) == 0 {
					fmt.Fprintf(w, "No accounts found on %s/%s.\n", args[0], args[1])
					return
				}
				row(w, "NAME", "PROVIDER", "DOMAINS", "DBS", "MAILBOXES", "SIZE", "PROTECTED", "RPO")
				for _, a := range al.Items {
					protected, rpo := "no", "-"
					if a.Protection != 0 {
						protected, rpo = "yes", rpoText(a.RPOSeconds)
					}
					row(w, a.Name, a.Provider, domainsText(a.Domains), len(a.Databases), a.Mailboxes, humanBytes(a.DiskBytes), protected, rpo)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask the member's agent now instead of using a recent discovery")
	return cmd
}

func accountCutDNSCmd(g *globals) *cobra.Command {
	var in api.DNSCut
	cmd := &cobra.Command{
		Use:   "cut-dns POOL ACCOUNT --to MEMBER",
		Short: "Point an account's DNS records at another member of its pool (--dry-run lists the changes only)",
		Example: "  poolctl account cut-dns web alice --to node2 --dry-run\n" +
			"  poolctl account cut-dns web alice --to node2",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(in.To) == "" {
				return fmt.Errorf("--to MEMBER is required: the member the account's records should point at")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.CutDNS(cmd.Context(), args[0], args[1], in)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				verb := "moved"
				if res.DryRun {
					verb = "would move"
				}
				fmt.Fprintf(w, "DNS of account %s (pool %s) %s from %s to %s: %d record(s)\n", res.Account, res.Pool, verb, orDash(res.From), res.To, len(res.Changes))
				if len(res.Changes) > 0 {
					fmt.Fprintln(w)
					row(w, "ZONE", "NAME", "TYPE", "OLD", "→", "NEW", "TTL")
					for _, ch := range res.Changes {
						row(w, ch.Zone, ch.Name, ch.Type, ch.Old, "→", ch.New, ch.TTL)
					}
				}
				if res.DryRun {
					fmt.Fprintln(w, "\ndry run: nothing was changed; run again without --dry-run to apply")
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.To, "to", "", "member to point the account's records at (required)")
	f.BoolVar(&in.DryRun, "dry-run", false, "list the changes without making them")
	return cmd
}

// staleText explains an account list the agent did not refresh.
func staleText(member string, al api.AccountList) string {
	msg := al.Error
	if msg == "" {
		msg = "the agent of " + member + " did not answer"
	}
	if !al.Stale {
		return msg
	}
	if al.DiscoveredAt == nil {
		return msg + "; no discovery of its accounts has succeeded yet"
	}
	return msg + "; these are the accounts discovered " + ago(al.DiscoveredAt)
}

// domainsText summarises an account's domains: the first, and how many more.
func domainsText(ds []string) string {
	switch len(ds) {
	case 0:
		return "-"
	case 1:
		return ds[0]
	}
	return fmt.Sprintf("%s +%d", ds[0], len(ds)-1)
}

// humanBytes renders a size in binary units: "512 B", "1.2 GiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for i < len(units)-1 && math.Round(v*10)/10 >= 1024 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// humanDuration renders d in its two largest units, truncated: "45s",
// "3m12s", "2h5m", "3d4h".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	two := func(a int64, ua string, b int64, ub string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, ua)
		}
		return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return two(s/60, "m", s%60, "s")
	case s < 86400:
		return two(s/3600, "h", s%3600/60, "m")
	}
	return two(s/86400, "d", s%86400/3600, "h")
}

// rpoText renders a recovery point age: "3m12s ago", or "never" when the
// account was never replicated.
func rpoText(secs *int64) string {
	if secs == nil {
		return "never"
	}
	return humanDuration(time.Duration(*secs)*time.Second) + " ago"
}
