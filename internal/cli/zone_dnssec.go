package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

// newZoneDNSSECCmd is `poolctl zone dnssec enable|disable|status|ds|rollover ZONE`.
func newZoneDNSSECCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dnssec", Short: "Sign a zone with DNSSEC, show its keys and DS, roll its keys over"}
	showStatus := func(st api.DNSSECStatus) error {
		return g.emit(st, func(w *tabwriter.Writer) { printDNSSEC(w, st) })
	}
	enable := &cobra.Command{
		Use:     "enable ZONE",
		Short:   "Sign a zone (ECDSA P-256 KSK and ZSK, NSEC3); prints the DS to give the registrar",
		Example: "  poolctl zone dnssec enable example.com",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.EnableDNSSEC(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return showStatus(st)
		},
	}
	disable := &cobra.Command{
		Use:   "disable ZONE",
		Short: "Stop signing a zone and delete its keys (remove the DS at the registrar first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DisableDNSSEC(cmd.Context(), a[0]); err != nil {
				return err
			}
			return g.emit(map[string]any{"zone": a[0], "enabled": false}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "zone %s is no longer signed; its keys are deleted\n", a[0])
			})
		},
	}
	status := &cobra.Command{
		Use:   "status ZONE",
		Short: "Show a zone's DNSSEC state: keys, DS, CDS/CDNSKEY and rollover",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.DNSSECStatus(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return showStatus(st)
		},
	}
	ds := &cobra.Command{
		Use:   "ds ZONE",
		Short: "Print the DS records (SHA-256) to give the registrar, with CDS/CDNSKEY",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.DNSSECDS(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return g.emit(d, func(w *tabwriter.Writer) {
				for _, r := range d.DS {
					fmt.Fprintln(w, strings.Join(strings.Fields(r), " "))
				}
			})
		},
	}
	var stepWait time.Duration
	rollover := &cobra.Command{
		Use:     "rollover ZONE zsk|ksk",
		Short:   "Start a key rollover: zsk (pre-publish) or ksk (double signature); each step waits the zone's TTLs",
		Example: "  poolctl zone dnssec rollover example.com zsk",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			in := api.DNSSECRolloverStart{Key: strings.ToLower(a[1])}
			if stepWait > 0 {
				d := api.Duration(stepWait)
				in.StepWait = &d
			}
			st, err := c.DNSSECRollover(cmd.Context(), a[0], in)
			if err != nil {
				return err
			}
			return showStatus(st)
		},
	}
	rollover.Flags().DurationVar(&stepWait, "step-wait", 0, "replace every wait by this (tests; the server needs --dnssec-test-waits)")
	_ = rollover.Flags().MarkHidden("step-wait")
	cmd.AddCommand(enable, disable, status, ds, rollover)
	return cmd
}

func printDNSSEC(w *tabwriter.Writer, st api.DNSSECStatus) {
	if !st.Enabled {
		fmt.Fprintf(w, "zone %s is not signed — sign it with: poolctl zone dnssec enable %s\n", st.Zone, st.Zone)
		return
	}
	fmt.Fprintf(w, "zone %s is signed (%s, %s; keys from %s)\n\n", st.Zone, st.Algorithm, st.Denial, st.Origin)
	row(w, "ROLE", "TAG", "FLAGS", "PUBLISHED", "SIGNING", "IN DS", "CREATED")
	for _, k := range st.Keys {
		created := k.CreatedAt
		row(w, strings.ToUpper(k.Role), k.Tag, k.Flags, yesNo(k.Published), yesNo(k.Signing), yesNo(k.InDS), ago(&created))
	}
	w.Flush()
	fmt.Fprintln(w, "\nDS for the registrar:")
	for _, r := range st.DS {
		fmt.Fprintln(w, "  "+strings.Join(strings.Fields(r), " "))
	}
	if r := st.Rollover; r != nil {
		fmt.Fprintf(w, "\nrollover (%s): %s — %s\n", r.Key, r.Step, r.Description)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
