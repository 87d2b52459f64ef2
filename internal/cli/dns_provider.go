package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
)

// newDNSProviderCmd is `poolctl dns provider`: the registry of DNS
// providers.
func newDNSProviderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provider",
		Short: "DNS providers a pool's failover record can be published at (PowerDNS, RFC 2136, Cloudflare)",
		Long: `A DNS provider is a named place poolctl publishes records besides its own zones.
Its credential (PowerDNS api-key, TSIG secret, Cloudflare token) is read from a file,
checked with a harmless read (PowerDNS and Cloudflare: the list of zones; RFC 2136:
an AXFR of each zone with the key), sealed with the server's master key, and never
shown again. A pool publishes its failover record there with
poolctl pool create|update POOL --failover-record FQDN --dns-provider NAME.`,
		Example: `  poolctl dns provider add pdns1 --kind powerdns --url http://127.0.0.1:8081 --api-key-file pdns.key
  poolctl dns provider add bind1 --kind rfc2136 --server 192.0.2.53:53 --tsig-key poolctl-update.:tsig.secret --zone example.com
  poolctl dns provider add cf --kind cloudflare --token-file cf.token --account ops@example.com
  poolctl dns provider list
  poolctl dns provider remove pdns1`,
	}
	cmd.AddCommand(providerAddCmd(g), providerListCmd(g), providerShowCmd(g), providerRemoveCmd(g))
	return cmd
}

var providerHeader = []any{"NAME", "KIND", "TARGET", "USED BY"}

func providerRow(w *tabwriter.Writer, p api.DNSProvider) {
	row(w, p.Name, p.Kind, p.Target, orDash(strings.Join(p.UsedBy, ", ")))
}

func providerAddCmd(g *globals) *cobra.Command {
	var (
		in                               api.DNSProviderCreate
		url, serverID, keyFile           string
		server, tsig, tokenFile, account string
		zones                            []string
	)
	cmd := &cobra.Command{
		Use:   "add NAME --kind powerdns|rfc2136|cloudflare [--url URL --api-key-file F | --server HOST:PORT --tsig-key NAME:SECRET-FILE --zone Z... | --token-file F [--account A]]",
		Short: "Add a DNS provider after a harmless read with its credential",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[0]
			var err error
			switch in.Kind {
			case api.DNSProviderPowerDNS:
				in.PowerDNS = &api.PowerDNSProvider{URL: url, ServerID: serverID}
				if keyFile == "" {
					return fmt.Errorf("--kind powerdns needs --api-key-file (a file holding the api-key of its pdns.conf)")
				}
				if in.Secret, err = readSecret(keyFile); err != nil {
					return fmt.Errorf("--api-key-file: %w", err)
				}
			case api.DNSProviderRFC2136:
				name, file, ok := strings.Cut(tsig, ":")
				if !ok || name == "" || file == "" {
					return fmt.Errorf("--kind rfc2136 needs --tsig-key NAME:SECRET-FILE (the key's name, and a file holding its base64 secret)")
				}
				in.RFC2136 = &api.RFC2136Provider{Server: server, KeyName: name, Zones: zones}
				if in.Secret, err = readSecret(file); err != nil {
					return fmt.Errorf("--tsig-key: %w", err)
				}
			case api.DNSProviderCloudflare:
				in.Cloudflare = &api.CloudflareProvider{Account: account, URL: url}
				if tokenFile == "" {
					return fmt.Errorf("--kind cloudflare needs --token-file (a file holding a scoped API token: Zone:Read, DNS:Edit)")
				}
				if in.Secret, err = readSecret(tokenFile); err != nil {
					return fmt.Errorf("--token-file: %w", err)
				}
			default:
				return fmt.Errorf("--kind %q: want powerdns, rfc2136 or cloudflare", in.Kind)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.AddDNSProvider(cmd.Context(), in)
			if err != nil {
				return err
			}
			return g.emit(p, func(w *tabwriter.Writer) { row(w, providerHeader...); providerRow(w, p) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Kind, "kind", "", "powerdns, rfc2136 or cloudflare (required)")
	f.StringVar(&url, "url", "", "powerdns: its webserver, http://HOST:8081; cloudflare: the API (default https://api.cloudflare.com/client/v4)")
	f.StringVar(&serverID, "server-id", "", "powerdns: the server id of its API paths (default localhost)")
	f.StringVar(&keyFile, "api-key-file", "", "powerdns: a file holding its api-key")
	f.StringVar(&server, "server", "", "rfc2136: the primary, HOST:PORT (port 53 when omitted)")
	f.StringVar(&tsig, "tsig-key", "", "rfc2136: NAME:SECRET-FILE, the TSIG key (hmac-sha256) and a file holding its base64 secret")
	f.StringSliceVar(&zones, "zone", nil, "rfc2136: a zone it manages there (repeat; it cannot list them)")
	f.StringVar(&tokenFile, "token-file", "", "cloudflare: a file holding a scoped API token (Zone:Read, DNS:Edit)")
	f.StringVar(&account, "account", "", "cloudflare: a label naming the account the token belongs to (shown, not sent)")
	_ = cmd.MarkFlagRequired("kind")
	return cmd
}

func providerListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the DNS providers (credentials are never shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.ListDNSProviders(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(api.List[api.DNSProvider]{Items: ps}, func(w *tabwriter.Writer) {
				row(w, providerHeader...)
				for _, p := range ps {
					providerRow(w, p)
				}
			})
		},
	}
}

func providerShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a DNS provider and what uses it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.DNSProvider(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.emit(p, func(w *tabwriter.Writer) {
				row(w, "name:", p.Name)
				row(w, "kind:", p.Kind)
				row(w, "target:", p.Target)
				if p.RFC2136 != nil {
					row(w, "zones:", strings.Join(p.RFC2136.Zones, ", "))
				}
				row(w, "credential:", map[bool]string{true: "stored, sealed (never shown)", false: "none"}[p.HasSecret])
				row(w, "used by:", orDash(strings.Join(p.UsedBy, ", ")))
				row(w, "added:", p.CreatedAt.Local().Format("2006-01-02 15:04:05"))
			})
		},
	}
}

func providerRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a DNS provider (refused, naming them, while pools use it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RemoveDNSProvider(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "removed DNS provider %s\n", args[0])
			return nil
		},
	}
}

// orBuiltin names the built-in zones for an empty provider.
func orBuiltin(s string) string {
	if s == "" {
		return "builtin (poolctl's zones)"
	}
	return s
}
