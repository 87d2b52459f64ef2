package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

// agentUpdateFlags are the flags of member update-agent and pool update-agents.
type agentUpdateFlags struct {
	rollbackAfter time.Duration
	force         bool
}

func (f *agentUpdateFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.rollbackAfter, "rollback-after", 0, "how long the new binary has to record a heartbeat before the agent's watchdog restores the old one (10s–10m; default 1m)")
	cmd.Flags().BoolVar(&f.force, "force", false, "update even an agent that runs the offered version")
}

func (f *agentUpdateFlags) body() api.AgentUpdate {
	return api.AgentUpdate{RollbackAfter: api.Duration(f.rollbackAfter), Force: f.force}
}

func memberUpdateAgentCmd(g *globals) *cobra.Command {
	var (
		f      agentUpdateFlags
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "update-agent POOL MEMBER",
		Short: "Update a member's agent to the binary this server offers (signed, rolled back unless it heartbeats)",
		Long: `Queue an agent.update job: the agent downloads the binary the server offers for
its platform through its pinned TLS connection, checks its signature against
the release key it pinned at enrolment and its SHA-256, keeps the running
binary as poolctl.prev and restarts into the new one. A watchdog restores the
previous binary unless the new one records a heartbeat within --rollback-after.
To update a whole pool one member at a time, use poolctl pool update-agents.`,
		Example: `  poolctl member update-agent web node1 --follow`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			j, err := c.UpdateAgent(cmd.Context(), args[0], args[1], f.body())
			if err != nil {
				return err
			}
			if !follow {
				return printJob(g, j)
			}
			if j, err = followToEnd(cmd.Context(), g, c, j.ID, "agent update job"); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "agent of %s updated (job %d)\n", args[1], j.ID)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the update's log until it ends")
	return cmd
}

func poolUpdateAgentsCmd(g *globals) *cobra.Command {
	var (
		f                    agentUpdateFlags
		status, cancel, wait bool
	)
	cmd := &cobra.Command{
		Use:   "update-agents POOL",
		Short: "Update a pool's agents one member at a time, standbys first and the active member last",
		Long: `Start a rolling agent update: each member in turn gets an agent.update job (see
poolctl member update-agent) and the next starts only once it heartbeats on
the new version. The rollout stops at the first failure; members that are down
or already up to date are skipped. It lives on the server: a restart resumes it.`,
		Example: `  poolctl pool update-agents web --wait
  poolctl pool update-agents web --status
  poolctl pool update-agents web --cancel`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if status && cancel {
				return fmt.Errorf("give --status or --cancel, not both")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			var r api.Rollout
			switch {
			case status:
				r, err = c.AgentRollout(cmd.Context(), args[0])
			case cancel:
				r, err = c.CancelAgentRollout(cmd.Context(), args[0])
			default:
				r, err = c.UpdateAgents(cmd.Context(), args[0], f.body())
			}
			if err != nil {
				return err
			}
			for wait && r.Status == api.RolloutRunning {
				fmt.Fprintf(g.stderr, "\r%d of %d member(s) done: %s", r.Done, len(r.Members), rolloutCurrent(r))
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(time.Second):
				}
				if r, err = c.AgentRollout(cmd.Context(), args[0]); err != nil {
					return err
				}
			}
			if wait {
				fmt.Fprintln(g.stderr)
			}
			if err := g.emit(r, func(w *tabwriter.Writer) { printRollout(w, r) }); err != nil {
				return err
			}
			if wait && r.Status == api.RolloutFailed {
				return fmt.Errorf("agent rollout failed: %s", r.Message)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&status, "status", false, "show the pool's latest rollout instead of starting one")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "stop the running rollout after the member being updated")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the rollout ends, showing its progress")
	return cmd
}

func rolloutCurrent(r api.Rollout) string {
	for _, m := range r.Members {
		if m.Status == api.RolloutMemberUpdating {
			return "updating " + m.Member
		}
	}
	return "starting the next member"
}

func printRollout(w *tabwriter.Writer, r api.Rollout) {
	fmt.Fprintf(w, "rollout %d of pool %s to %s: %s (%d of %d done)\n", r.ID, r.Pool, r.Version, r.Status, r.Done, len(r.Members))
	if r.Message != "" {
		fmt.Fprintf(w, "%s\n", r.Message)
	}
	row(w, "MEMBER", "STATUS", "FROM", "JOB", "NOTE")
	for _, m := range r.Members {
		job := "-"
		if m.Job != 0 {
			job = fmt.Sprint(m.Job)
		}
		row(w, m.Member, m.Status, orDash(m.From), job, m.Note)
	}
}
