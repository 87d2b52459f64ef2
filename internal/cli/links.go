package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// Linked nodes: `poolctl member set-profile`, `poolctl link ...` and
// `poolctl account distribute|dedistribute`.

func memberSetProfileCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set-profile POOL MEMBER PROFILE",
		Short: "Set what a member serves: standard, mail, dns or database (checked against the services its agent detected)",
		Long: `A member's profile says what it serves. A parent of linked nodes is standard; a
mail child is mail and needs Dovecot and Postfix detected by its agent; database
needs MariaDB.`,
		Example: "  poolctl member set-profile web mail1 mail",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.SetProfile(cmd.Context(), args[0], args[1], args[2])
			if err != nil {
				return err
			}
			return printMember(g, m)
		},
	}
}

func newLinkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Linked nodes: a child member serving mail for some of its parent's accounts",
		Long: `A link makes a child member (profile mail) serve the mail of some of its parent's
accounts (profile standard). A child has exactly one parent; a parent may have
several children. Move an account's mail with poolctl account distribute and
back with poolctl account dedistribute (docs/linked-nodes.md).`,
		Example: `  poolctl link add web node1 mail1 --function mail
  poolctl link list web
  poolctl link accounts web mail1
  poolctl link remove web mail1`,
	}
	cmd.AddCommand(linkAddCmd(g), linkListCmd(g), linkRemoveCmd(g), linkAccountsCmd(g), linkRunsCmd(g), linkRunCmd(g))
	return cmd
}

func linkAddCmd(g *globals) *cobra.Command {
	var function string
	cmd := &cobra.Command{
		Use:     "add POOL PARENT CHILD --function mail",
		Short:   "Link CHILD to PARENT for a function (refused, with the reason, when they do not fit)",
		Example: "  poolctl link add web node1 mail1 --function mail",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			l, err := c.AddLink(cmd.Context(), args[0], api.LinkCreate{Parent: args[1], Child: args[2], Function: function})
			if err != nil {
				return err
			}
			return g.emit(l, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "%s is the %s child of %s (pool %s)\n", l.Child, l.Function, l.Parent, l.Pool)
			})
		},
	}
	cmd.Flags().StringVar(&function, "function", api.FunctionMail, "what the child serves (mail)")
	return cmd
}

func linkListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list [POOL]",
		Short: "List linked nodes",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			pool := ""
			if len(args) == 1 {
				pool = args[0]
			}
			ls, err := c.ListLinks(cmd.Context(), pool)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Link]{Items: ls}, func(w *tabwriter.Writer) {
				row(w, "POOL", "PARENT", "CHILD", "FUNCTION", "ACCOUNTS", "SINCE")
				for _, l := range ls {
					row(w, l.Pool, l.Parent, l.Child, l.Function, l.Accounts, l.CreatedAt.Format(time.RFC3339))
				}
			})
		},
	}
}

func linkRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove POOL CHILD",
		Short: "Remove a child's link (refused while accounts are distributed to it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RemoveLink(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "link of %s removed\n", args[1])
			return nil
		},
	}
}

func linkAccountsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "accounts POOL CHILD",
		Short: "View the accounts distributed to a child",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			as, err := c.LinkAccounts(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return g.emit(api.List[api.DistributedAccount]{Items: as}, func(w *tabwriter.Writer) {
				row(w, "ACCOUNT", "PARENT", "FUNCTION", "STATE", "DOMAINS", "USERS", "SINCE")
				for _, a := range as {
					state := a.State
					if a.KeepUntil != nil {
						state += " until " + a.KeepUntil.Format(time.RFC3339)
					}
					row(w, a.Account, a.Parent, a.Function, state, orDash(strings.Join(a.Domains, ",")), len(a.Users), a.Since.Format(time.RFC3339))
				}
			})
		},
	}
}

func linkRunsCmd(g *globals) *cobra.Command {
	var account string
	cmd := &cobra.Command{
		Use:   "runs [POOL]",
		Short: "List distribution runs, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			pool := ""
			if len(args) == 1 {
				pool = args[0]
			}
			rs, err := c.DistributionRuns(cmd.Context(), pool, account, 0)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.DistributionRun]{Items: rs}, func(w *tabwriter.Writer) {
				row(w, "ID", "ACCOUNT", "DIRECTION", "PARENT", "CHILD", "STEP", "STATUS", "STARTED")
				for _, r := range rs {
					row(w, r.ID, r.Account, r.Direction, r.Parent, r.Child, fmt.Sprintf("%d/%d %s", r.StepIndex, len(r.Steps), r.Step), r.Status, r.CreatedAt.Format(time.RFC3339))
				}
			})
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "only this account's runs")
	return cmd
}

func linkRunCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "run ID",
		Short: "Show a distribution run (--follow: its log live until it ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if follow {
				return followDistribution(cmd.Context(), g, c, id)
			}
			r, err := c.DistributionRun(cmd.Context(), id)
			if err != nil {
				return err
			}
			return printDistRun(g, r)
		},
	}
	cmd.Flags().BoolVar(&follow, "follow", false, "print the log as it grows until the run ends")
	return cmd
}

func printDistRun(g *globals, r api.DistributionRun) error {
	return g.emit(r, func(w *tabwriter.Writer) {
		row(w, "run:", r.ID)
		row(w, "account:", r.Account)
		row(w, "direction:", r.Direction)
		row(w, "parent:", r.Parent)
		row(w, "child:", r.Child)
		row(w, "step:", fmt.Sprintf("%d/%d %s", r.StepIndex, len(r.Steps), r.Step))
		row(w, "status:", r.Status)
		if r.Error != "" {
			row(w, "error:", r.Error)
		}
	})
}

func accountDistributeCmd(g *globals) *cobra.Command {
	var (
		child  string
		detach bool
	)
	cmd := &cobra.Command{
		Use:   "distribute POOL MEMBER ACCOUNT --mail CHILD",
		Short: "Move an account's mail to a linked child (resumable; run again to resume a failed run)",
		Long: `Moves the account's mail side (users with their password hashes, forwarders,
filters, quotas) and Maildirs to the child, switches the parent's proxy (IMAP/POP3
logins) and Postfix transport (SMTP) to it, copies what arrived meanwhile, points
the account's mail. and webmail. records at the child, verifies that the child
holds every message, and only then removes the mail from the parent. Refused,
with the reason: IPv6 enabled for mail, DNS not managed by poolctl, a forwarder
that pipes to a program, too little free space on the child.`,
		Example: "  poolctl account distribute web node1 alice --mail mail1",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.Distribute(cmd.Context(), args[0], args[1], args[2], api.Distribute{Function: api.FunctionMail, Child: child})
			if err != nil {
				return err
			}
			if detach {
				return printDistRun(g, r)
			}
			return followDistribution(cmd.Context(), g, c, r.ID)
		},
	}
	cmd.Flags().StringVar(&child, "mail", "", "the linked child that serves the account's mail")
	cmd.Flags().BoolVar(&detach, "detach", false, "start the run and return (follow it with poolctl link run ID --follow)")
	_ = cmd.MarkFlagRequired("mail")
	return cmd
}

func accountDedistributeCmd(g *globals) *cobra.Command {
	var (
		mail, force, detach bool
		confirm             string
		keep                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "dedistribute POOL MEMBER ACCOUNT --mail",
		Short: "Move an account's mail back from its child to its member (resumable)",
		Long: `Measures the mail on the child first and refuses, with both numbers, when the
parent lacks the space; copies the mail back and verifies it; points proxy,
transport and DNS back at the parent; ends the open sessions on the child. The
child keeps its copy for --keep (7 days) as a fallback, then it is deleted.

With the child unreachable the command refuses; --force (child offline for good
or compromised) needs --confirm ACCOUNT and records in an event which mail
existed only on the child and is lost.`,
		Example: `  poolctl account dedistribute web node1 alice --mail
  poolctl account dedistribute web node1 alice --mail --force --confirm alice`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !mail {
				return errors.New("say which function comes back: --mail")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.Dedistribute(cmd.Context(), args[0], args[1], args[2],
				api.Dedistribute{Function: api.FunctionMail, Force: force, Confirm: confirm, Keep: api.Duration(keep)})
			if err != nil {
				return err
			}
			if detach {
				return printDistRun(g, r)
			}
			return followDistribution(cmd.Context(), g, c, r.ID)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&mail, "mail", false, "bring the account's mail back")
	f.BoolVar(&force, "force", false, "the child is unreachable for good: point everything back and lose what only it holds")
	f.StringVar(&confirm, "confirm", "", "with --force: the account's name, typed again")
	f.DurationVar(&keep, "keep", 0, "how long the child keeps its copy (default 7 days)")
	f.BoolVar(&detach, "detach", false, "start the run and return")
	return cmd
}

// followDistribution prints a run's log as it grows and its end; a run
// that failed is an error.
func followDistribution(ctx context.Context, g *globals, c *client.Client, id int64) error {
	if asJSON, err := g.json(); err != nil {
		return err
	} else if !asJSON {
		fmt.Fprintf(g.stdout, "distribution run %d\n", id)
	}
	asJSON, _ := g.json()
	var after int64
	for {
		lines, err := c.DistributionLog(ctx, id, after, 20*time.Second)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if !asJSON {
				fmt.Fprintf(g.stdout, "%s  %s\n", l.Time.Local().Format("15:04:05"), l.Line)
			}
			after = l.Seq
		}
		if len(lines) > 0 {
			continue
		}
		r, err := c.DistributionRun(ctx, id)
		if err != nil {
			return err
		}
		if r.FinishedAt == nil {
			continue
		}
		// Lines written as the run ended.
		if more, err := c.DistributionLog(ctx, id, after, 0); err == nil && len(more) > 0 {
			continue
		}
		if asJSON {
			if err := printDistRun(g, r); err != nil {
				return err
			}
		}
		if r.Status != api.DistSucceeded {
			return fmt.Errorf("%s run %d of %s failed at step %s: %s", r.Direction, r.ID, r.Account, r.Step, r.Error)
		}
		if !asJSON {
			fmt.Fprintf(g.stdout, "%s of %s's mail succeeded\n", r.Direction, r.Account)
		}
		return nil
	}
}
