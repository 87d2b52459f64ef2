package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

func newZoneCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "zone", Short: "Create, list, import, export and delete DNS zones"}
	var in api.ZoneCreate
	create := &cobra.Command{
		Use:     "create ZONE",
		Short:   "Create a zone with its SOA and NS records",
		Example: "  poolctl zone create example.com --ns ns1.example.com --ns ns2.example.com",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			in.Name = a[0]
			z, err := c.CreateZone(cmd.Context(), in)
			if err != nil {
				return err
			}
			return g.emit(z, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "zone %s created (serial %d, %d records)\n", z.Name, z.Serial, z.RecordCount)
			})
		},
	}
	create.Flags().StringSliceVar(&in.Nameservers, "ns", nil, "apex nameserver (repeatable; default ns1.ZONE)")
	create.Flags().StringVar(&in.Email, "email", "", "SOA contact (default hostmaster@ZONE)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List zones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			zs, err := c.ListZones(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Zone]{Items: zs}, func(w *tabwriter.Writer) {
				if len(zs) == 0 {
					fmt.Fprintln(w, "No zones yet — create one with: poolctl zone create example.com")
					return
				}
				row(w, "ZONE", "SERIAL", "RECORDS", "UPDATED")
				for _, z := range zs {
					upd := z.UpdatedAt
					row(w, z.Name, z.Serial, z.RecordCount, ago(&upd))
				}
			})
		},
	}
	var replace bool
	imp := &cobra.Command{
		Use:   "import ZONE FILE",
		Short: "Import an RFC 1035 zone file (- for stdin): creates the zone from it when missing, else merges unless --replace",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var text []byte
			if a[1] == "-" {
				text, err = io.ReadAll(g.stdin)
			} else {
				text, err = os.ReadFile(a[1])
			}
			if err != nil {
				return fmt.Errorf("read zone file: %w", err)
			}
			res, err := c.ImportZone(cmd.Context(), a[0], api.ZoneImport{Text: string(text), Replace: replace})
			if err != nil {
				return err
			}
			return g.emit(res, func(w *tabwriter.Writer) {
				if res.Created {
					fmt.Fprintf(w, "zone %s created from the file: %d records and its SOA (serial %d)\n", res.Zone, res.Added, res.Serial)
					return
				}
				fmt.Fprintf(w, "zone %s: %d records added, %d removed\n", res.Zone, res.Added, res.Removed)
			})
		},
	}
	imp.Flags().BoolVar(&replace, "replace", false, "replace every record poolctl does not manage (and the SOA's fields)")
	export := &cobra.Command{
		Use:   "export ZONE",
		Short: "Print the zone as an RFC 1035 zone file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			text, err := c.ExportZone(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			_, err = io.WriteString(g.stdout, text)
			return err
		},
	}
	del := &cobra.Command{
		Use:   "delete ZONE",
		Short: "Delete a zone and all its records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteZone(cmd.Context(), a[0]); err != nil {
				return err
			}
			return g.emit(map[string]string{"deleted": a[0]}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "zone %s deleted\n", a[0]) })
		},
	}
	cmd.AddCommand(create, list, imp, export, del, newZoneDNSSECCmd(g))
	return cmd
}

func newRecordCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "record", Short: "Add, list and delete DNS records"}
	var ttl int
	add := &cobra.Command{
		Use:   "add ZONE NAME TYPE VALUE",
		Short: "Add a record (NAME relative to the zone, @ for the apex)",
		Example: `  poolctl record add example.com www A 203.0.113.10 --ttl 300
  poolctl record add example.com @ MX "10 mail.example.com."
  poolctl record add example.com @ TXT '"v=spf1 mx -all"'`,
		Args: cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.AddRecord(cmd.Context(), a[0], api.RecordCreate{Name: a[1], Type: a[2], Value: a[3], TTL: ttl})
			if err != nil {
				return err
			}
			return g.emit(r, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "record %d added: %s %d %s %s\n", r.ID, r.Name, r.TTL, r.Type, r.Value)
			})
		},
	}
	add.Flags().IntVar(&ttl, "ttl", 0, "TTL in seconds (default 3600)")
	list := &cobra.Command{
		Use:   "list ZONE",
		Short: "List a zone's records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rs, err := c.ListRecords(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return g.emit(api.List[api.Record]{Items: rs}, func(w *tabwriter.Writer) {
				row(w, "ID", "NAME", "TTL", "TYPE", "VALUE", "MANAGED BY")
				for _, r := range rs {
					row(w, r.ID, r.Name, r.TTL, r.Type, r.Value, orDash(r.Managed))
				}
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete ZONE ID",
		Short: "Delete a record by ID (see record list)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			id, err := strconv.ParseInt(a[1], 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a record ID", a[1])
			}
			if err := c.DeleteRecord(cmd.Context(), a[0], id); err != nil {
				return err
			}
			return g.emit(map[string]int64{"deleted": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "record %d deleted\n", id) })
		},
	}
	cmd.AddCommand(add, list, del)
	return cmd
}
