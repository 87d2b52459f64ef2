package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

func newJobCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Queue jobs for agents and follow them"}
	cmd.AddCommand(jobRunCmd(g), jobListCmd(g), jobShowCmd(g), jobLogCmd(g), jobCancelCmd(g))
	return cmd
}

func printJob(g *globals, j api.Job) error {
	return g.emit(j, func(w *tabwriter.Writer) {
		row(w, "id:", j.ID)
		row(w, "member:", j.Pool+"/"+j.Member)
		row(w, "kind:", j.Kind)
		row(w, "status:", j.Status)
		row(w, "attempts:", fmt.Sprintf("%d of %d", j.Attempts, j.MaxAttempts))
		if len(j.Args) > 0 {
			row(w, "args:", string(j.Args))
		}
		if j.Error != "" {
			row(w, "error:", j.Error)
		}
		if len(j.Result) > 0 {
			row(w, "result:", string(j.Result))
		}
	})
}

func jobRunCmd(g *globals) *cobra.Command {
	var (
		args   string
		follow bool
	)
	cmd := &cobra.Command{
		Use:     "run POOL MEMBER KIND",
		Short:   "Queue a job (facts.refresh, service.status, shell.exec ...) and, with --follow, stream its log",
		Example: "  poolctl job run web node1 service.status --follow\n  poolctl job run web node1 shell.exec --args '{\"command\":\"uptime\"}' --follow",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			in := api.JobCreate{Kind: a[2]}
			if args != "" {
				if !json.Valid([]byte(args)) {
					return fmt.Errorf("--args is not valid JSON")
				}
				in.Args = json.RawMessage(args)
			}
			j, err := c.CreateJob(cmd.Context(), a[0], a[1], in)
			if err != nil {
				return err
			}
			if !follow {
				return printJob(g, j)
			}
			if j, err = followToEnd(cmd.Context(), g, c, j.ID, "job"); err != nil {
				return err
			}
			if len(j.Result) > 0 {
				fmt.Fprintln(g.stdout, string(j.Result))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&args, "args", "", "job arguments as a JSON object")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the log until the job ends")
	return cmd
}

// followToEnd follows a job (followJob) and turns its failure into the
// command's error, naming it what.
func followToEnd(ctx context.Context, g *globals, c *client.Client, id int64, what string) (api.Job, error) {
	j, err := followJob(ctx, g, c, id)
	if err != nil {
		return j, err
	}
	if j.Status != api.JobSucceeded {
		return j, fmt.Errorf("%s %d %s: %s", what, j.ID, j.Status, j.Error)
	}
	return j, nil
}

// followJob prints log lines as they arrive until the job ends.
func followJob(ctx context.Context, g *globals, c *client.Client, id int64) (api.Job, error) {
	var after int64
	for {
		lines, err := c.JobLog(ctx, id, after, 20*time.Second)
		if err != nil {
			return api.Job{}, err
		}
		for _, l := range lines {
			fmt.Fprintf(g.stdout, "%s  %s\n", l.Time.Local().Format("15:04:05"), l.Line)
			after = l.Seq
		}
		if len(lines) > 0 {
			continue
		}
		j, err := c.GetJob(ctx, id)
		if err != nil {
			return j, err
		}
		if j.FinishedAt != nil {
			// Drain lines that arrived with the result.
			rest, err := c.JobLog(ctx, id, after, 0)
			if err == nil {
				for _, l := range rest {
					fmt.Fprintf(g.stdout, "%s  %s\n", l.Time.Local().Format("15:04:05"), l.Line)
				}
			}
			return j, nil
		}
	}
}

func jobListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list POOL MEMBER",
		Short: "List a member's jobs, newest first",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			js, err := c.ListJobs(cmd.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Job]{Items: js}, func(w *tabwriter.Writer) {
				if len(js) == 0 {
					fmt.Fprintf(w, "No jobs yet — queue one with: poolctl job run %s %s facts.refresh\n", a[0], a[1])
					return
				}
				row(w, "ID", "KIND", "STATUS", "ATTEMPTS", "CREATED", "ERROR")
				for _, j := range js {
					created := j.CreatedAt
					row(w, j.ID, j.Kind, j.Status, j.Attempts, ago(&created), orDash(j.Error))
				}
			})
		},
	}
}

func jobShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			id, err := parseID(a[0])
			if err != nil {
				return err
			}
			j, err := c.GetJob(cmd.Context(), id)
			if err != nil {
				return err
			}
			return printJob(g, j)
		},
	}
}

func jobLogCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "log ID",
		Short: "Print a job's log (--follow until it ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			id, err := parseID(a[0])
			if err != nil {
				return err
			}
			if follow {
				_, err := followJob(cmd.Context(), g, c, id)
				return err
			}
			lines, err := c.JobLog(cmd.Context(), id, 0, 0)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.JobLogLine]{Items: lines}, func(w *tabwriter.Writer) {
				for _, l := range lines {
					fmt.Fprintf(w, "%s  %s\n", l.Time.Local().Format("15:04:05"), l.Line)
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream until the job ends")
	return cmd
}

func jobCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			id, err := parseID(a[0])
			if err != nil {
				return err
			}
			j, err := c.CancelJob(cmd.Context(), id)
			if err != nil {
				return err
			}
			return printJob(g, j)
		},
	}
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens (admin, or cluster for another nameserver)"}
	var (
		ttl   time.Duration
		scope string
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token (its secret is printed once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), api.TokenCreate{Name: a[0], TTL: api.Duration(ttl), Scope: scope})
			if err != nil {
				return err
			}
			return g.emit(t, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "%s token %d %q created; its secret (shown once):\n  %s\n", t.Token.Scope, t.Token.ID, t.Token.Name, t.Secret)
			})
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 0, "expire after this long (default never)")
	create.Flags().StringVar(&scope, "scope", "admin", "admin (the whole API) or cluster (only the DNS cluster API, for another nameserver of the cluster)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ts, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Token]{Items: ts}, func(w *tabwriter.Writer) {
				row(w, "ID", "NAME", "SCOPE", "PREFIX", "CREATED", "LAST USED", "EXPIRES")
				for _, t := range ts {
					exp := "never"
					if t.ExpiresAt != nil {
						exp = t.ExpiresAt.Local().Format(time.RFC3339)
					}
					created := t.CreatedAt
					row(w, t.ID, t.Name, t.Scope, t.Prefix+"…", ago(&created), ago(t.LastUsedAt), exp)
				}
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			id, err := parseID(a[0])
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), id); err != nil {
				return err
			}
			return g.emit(map[string]int64{"revoked": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "token %d revoked\n", id) })
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newEventsCmd(g *globals) *cobra.Command {
	var (
		q      client.EventQuery
		since  time.Duration
		follow bool
	)
	cmd := &cobra.Command{
		Use:     "events",
		Short:   "List events (--follow to stream new ones)",
		Example: "  poolctl events --pool web --follow\n  poolctl events --kind member. --since 1h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			if since > 0 {
				q.Since = time.Now().Add(-since)
			}
			print := func(evs []api.Event) {
				for _, e := range evs {
					if asJSON {
						b, _ := json.Marshal(e)
						fmt.Fprintln(g.stdout, string(b))
						continue
					}
					scope := e.Pool
					if e.Member != "" {
						scope += "/" + e.Member
					}
					fmt.Fprintf(g.stdout, "%s  %-22s %-16s %s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Kind, orDash(scope), e.Message)
				}
			}
			evs, err := c.Events(cmd.Context(), q)
			if err != nil {
				return err
			}
			if !follow && asJSON {
				return g.emit(api.List[api.Event]{Items: evs}, nil)
			}
			print(evs)
			if !follow {
				return nil
			}
			if n := len(evs); n > 0 {
				q.After = evs[n-1].ID
			} else if q.After == 0 {
				// Start from the newest event so only new ones are shown.
				last, err := c.Events(cmd.Context(), client.EventQuery{Pool: q.Pool, Member: q.Member, Kind: q.Kind, Limit: 1})
				if err != nil {
					return err
				}
				if len(last) > 0 {
					q.After = last[len(last)-1].ID
				}
			}
			q.Since, q.Wait, q.Limit = time.Time{}, 25*time.Second, 0
			return followEvents(cmd.Context(), c, q, print, g.stderr, eventsRetry)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Pool, "pool", "", "only this pool")
	f.StringVar(&q.Member, "member", "", "only this member")
	f.StringVar(&q.Kind, "kind", "", "only this kind (a trailing '.' matches a prefix, e.g. member.)")
	f.DurationVar(&since, "since", 0, "only events newer than this (e.g. 1h)")
	f.IntVar(&q.Limit, "limit", 0, "at most this many events (default 1000)")
	f.BoolVarP(&follow, "follow", "f", false, "keep streaming new events")
	return cmd
}
