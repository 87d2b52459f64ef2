package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

// guardFlags adds --guard-changed and --guard-incompressible; the values
// are set only when the flags are given.
func guardFlags(cmd *cobra.Command, changed, incompressible **int) {
	*changed, *incompressible = new(int), new(int)
	f := cmd.Flags()
	f.IntVar(*changed, "guard-changed", api.DefaultGuardChanged,
		"stop a run for confirmation when it would delete or change more than this percentage of the account's files (1-100, 0 = off)")
	f.IntVar(*incompressible, "guard-incompressible", api.DefaultGuardIncompressible,
		"stop a run for confirmation when more than this percentage of the files' bytes were rewritten with content that does not compress, the sign of encryption (1-100, 0 = off)")
	cmd.PreRunE = chainPreRun(cmd.PreRunE, func(cmd *cobra.Command, _ []string) error {
		if !cmd.Flags().Changed("guard-changed") {
			*changed = nil
		}
		if !cmd.Flags().Changed("guard-incompressible") {
			*incompressible = nil
		}
		return nil
	})
}

func chainPreRun(first, then func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	if first == nil {
		return then
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := first(cmd, args); err != nil {
			return err
		}
		return then(cmd, args)
	}
}

func protectionDecideCmd(g *globals, confirm bool) *cobra.Command {
	use, short, example := "confirm RUN", "Let a run that needs confirmation replace the standby's copy", "  poolctl protection confirm 42"
	long := "A run whose snapshot deleted or changed more of the account's files than the protection's guard allows, or\n" +
		"rewrote most of their bytes with content that does not compress, stops as needs_confirmation before the\n" +
		"standby's copy is touched. confirm lets its restore proceed: the standby gets the change."
	if !confirm {
		use, short, example = "reject RUN", "Discard a run that needs confirmation: the standby keeps its copy", "  poolctl protection reject 42"
		long = "reject discards a run that needs confirmation: the standby keeps its copy. The next run compares with the\n" +
			"same last good copy, so it stops again while the source stays damaged: restore the source, or confirm a run."
	}
	return &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("run %q: want a run id (poolctl protection runs POOL ACCOUNT lists them)", args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			decide, what := c.RejectRun, "rejected: the standby keeps its copy"
			if confirm {
				decide, what = c.ConfirmRun, "confirmed: the restore to the standby proceeds"
			}
			r, err := decide(cmd.Context(), id)
			if err != nil {
				return err
			}
			return g.emit(r, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "run %d %s\n", r.ID, what)
			})
		},
	}
}

// guardText is a protection's guard thresholds.
func guardText(p api.Protection) string {
	pct := func(v int) string {
		if v == 0 {
			return "off"
		}
		return fmt.Sprintf("over %d %%", v)
	}
	return fmt.Sprintf("confirm runs that change %s of the files, or rewrite %s of their bytes incompressibly",
		pct(p.GuardChanged), pct(p.GuardIncompressible))
}

// guardRows prints what the guard measured in a run.
func guardRows(w *tabwriter.Writer, r api.Run) {
	gd := r.Guard
	if gd == nil {
		return
	}
	row(w, "  guard:", fmt.Sprintf("%d of %d files deleted, %d changed (%.1f %%); %s of %s rewritten incompressible (%.1f %%)",
		gd.FilesDeleted, gd.FilesTotal, gd.FilesChanged, gd.ChangedPercent, humanBytes(gd.BytesIncompressible), humanBytes(gd.BytesTotal), gd.IncompressiblePercent))
	if len(gd.Reasons) > 0 {
		row(w, "  stopped:", strings.Join(gd.Reasons, "; "))
	}
	switch {
	case gd.Decision != "":
		row(w, "  decision:", gd.Decision)
	case r.Status == api.RunNeedsConfirmation:
		row(w, "  waiting:", fmt.Sprintf("poolctl protection confirm %d (replace the standby's copy) or poolctl protection reject %d", r.ID, r.ID))
	}
}
