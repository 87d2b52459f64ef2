// Package cli holds poolctl's subcommands and is the composition root: the
// only package that wires the store, services, engines and servers
// together. Client commands are thin wrappers over one API call each,
// through the public client package.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/agent"
)

// Version is the poolctl version, set at build time with -ldflags.
var Version = "0.1.0-dev"

// globals are the flags and streams shared by every command.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	server, token  string
	ca             string
	output         string
}

// Main runs poolctl with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "error:", errorText(err))
		return exitCode(err)
	}
	return 0
}

// ExitRemoved is the exit status of an agent whose member was removed: a
// service manager must not restart it (the systemd unit of `agent
// install` says RestartPreventExitStatus=3).
const ExitRemoved = 3

func exitCode(err error) int {
	if errors.Is(err, agent.ErrRemoved) {
		return ExitRemoved
	}
	return 1
}

func errorText(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return err.Error()
}

// NewRoot builds the command tree.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "poolctl",
		Short:         "Control plane for redundant hosting fleets",
		Long:          "poolctl enrols servers into pools, watches them through agents, moves DNS when a server dies\nand serves the fleet's authoritative DNS.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	// The environment is read after parsing (fromEnv), not used as the
	// defaults: --help prints defaults, and these may hold the token.
	pf.StringVar(&g.server, "server", "", "server URL (env POOLCTL_URL)")
	pf.StringVar(&g.token, "token", "", "API token (env POOLCTL_TOKEN)")
	pf.StringVar(&g.ca, "ca", "", "PEM file of the server's CA (env POOLCTL_CA)")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(
		newServerCmd(g),
		newDNSNodeCmd(g),
		newAgentCmd(g),
		newDemoCmd(g),
		newPoolCmd(g),
		newMemberCmd(g),
		newJobCmd(g),
		newTokenCmd(g),
		newEventsCmd(g),
		newZoneCmd(g),
		newDNSCmd(g),
		newRecordCmd(g),
		newUserCmd(g),
		newAccountCmd(g),
		newProtectionCmd(g),
		newLinkCmd(g),
		newNotifyCmd(g),
		newMonitorCmd(g),
		newMaintenanceCmd(g),
		newReleaseCmd(g),
	)
	return root
}

// fromEnv fills the connection settings that no flag gave from
// POOLCTL_URL, POOLCTL_TOKEN and POOLCTL_CA.
func (g *globals) fromEnv() {
	for _, v := range []struct {
		dst *string
		env string
	}{{&g.server, "POOLCTL_URL"}, {&g.token, "POOLCTL_TOKEN"}, {&g.ca, "POOLCTL_CA"}} {
		if *v.dst == "" {
			*v.dst = os.Getenv(v.env)
		}
	}
}

// client builds an API client from the global flags and the environment.
func (g *globals) client() (*client.Client, error) {
	g.fromEnv()
	if g.server == "" {
		return nil, errors.New("no server: set POOLCTL_URL or --server (e.g. https://127.0.0.1:8443)")
	}
	if g.token == "" {
		return nil, errors.New("no token: set POOLCTL_TOKEN or --token (the server writes DATA/admin.token)")
	}
	var caPEM []byte
	if g.ca != "" {
		b, err := os.ReadFile(g.ca)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		caPEM = b
	}
	c, err := client.New(g.server, client.Options{Token: g.token, CAPEM: caPEM})
	if err != nil {
		return nil, err
	}
	c.UserAgent = "poolctl/" + Version
	return c, nil
}

func (g *globals) json() (bool, error) {
	switch g.output {
	case "json":
		return true, nil
	case "table", "":
		return false, nil
	}
	return false, fmt.Errorf("--output %q: want table or json", g.output)
}

// emit prints v as JSON, or calls table to print it readably.
func (g *globals) emit(v any, table func(w *tabwriter.Writer)) error {
	asJSON, err := g.json()
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func row(w io.Writer, cols ...any) {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(w, strings.Join(parts, "\t"))
}

// ago renders how long ago t was, "-" for never.
func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := time.Since(*t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%.0fs ago", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0fm ago", d.Minutes())
	case d < 48*time.Hour:
		return fmt.Sprintf("%.0fh ago", d.Hours())
	}
	return t.Local().Format("2006-01-02 15:04")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
