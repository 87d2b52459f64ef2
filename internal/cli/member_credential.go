package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func memberRotateCredentialCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "rotate-credential POOL [MEMBER | --all]",
		Short: "Give a member's agent (or every agent of the pool) a new credential with its next heartbeat",
		Long: `Rotate agent credentials now instead of waiting for the automatic rotation
(every 30 days by default, see poolctl server --credential-rotation). The
agent takes its new credential with its next heartbeat and saves it in its
agent.json; the old one keeps working for a short overlap after the new one
is first used, so no heartbeat is lost. Use revoke-credential instead when a
credential may have leaked.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 2) {
				return fmt.Errorf("name one MEMBER or give --all")
			}
			member := ""
			if len(args) == 2 {
				member = args[1]
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.RotateCredential(cmd.Context(), args[0], member)
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				if len(res.Members) == 0 {
					fmt.Fprintf(w, "no enrolled member in pool %s: nothing to rotate\n", args[0])
					return
				}
				fmt.Fprintf(w, "credential rotation requested for %s; each agent takes its new credential with its next heartbeat\n", strings.Join(res.Members, ", "))
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "rotate the credentials of every enrolled member of POOL")
	return cmd
}

func memberRevokeCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "revoke POOL MEMBER",
		Aliases: []string{"revoke-credential"},
		Short:   "Revoke a member's agent credential at once; its agent must enrol again",
		Long: `Revoke the agent credential of MEMBER now, for example when agent.json may have
been copied. Every request with it is answered 401 and recorded as an event
with its source address. Without heartbeats the member turns suspect, then
down; revoking the pool's active member therefore needs --force (the pool
fails over). Enrol the agent again with a secret from poolctl member secret.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RevokeCredential(cmd.Context(), args[0], args[1], force); err != nil {
				return err
			}
			return g.emit(map[string]string{"revoked": args[1], "pool": args[0]}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "revoked the agent credential of %s; enrol its agent again with a secret from: poolctl member secret %s %s\n", args[1], args[0], args[1])
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "revoke even the pool's active member (it turns down and the pool fails over)")
	return cmd
}

// credentialSummary describes a member's agent credential in one line, e.g.
// "issued 3d ago, rotates 2027-01-03 (rotation requested)".
func credentialSummary(c *api.CredentialInfo) string {
	if c == nil {
		return "none (not enrolled, or revoked)"
	}
	parts := []string{"issued " + ago(c.IssuedAt)}
	if c.NextRotationAt != nil {
		parts = append(parts, "rotates "+c.NextRotationAt.Local().Format("2006-01-02"))
	} else {
		parts = append(parts, "no automatic rotation")
	}
	s := strings.Join(parts, ", ")
	switch c.Rotation {
	case "requested":
		s += " (rotation requested: at the next heartbeat)"
	case "issued":
		s += " (new credential sent, waiting for the agent to use it)"
	}
	if c.PreviousValidUntil != nil && time.Now().Before(*c.PreviousValidUntil) {
		s += "; previous one valid until " + c.PreviousValidUntil.Local().Format(time.RFC3339)
	}
	return s
}
