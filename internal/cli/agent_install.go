package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/internal/agent"
	"github.com/poolctl/poolctl/internal/agent/install"
)

// agentInstallCmd enrols this machine and runs the agent as a service; the
// server's install.sh ends with it.
func agentInstallCmd(g *globals) *cobra.Command {
	var (
		eo       agent.EnrollOptions
		initName string
		bin      string
		pass     struct {
			allowShell                       bool
			accounts, accountsRoot, logLevel string
		}
	)
	cmd := &cobra.Command{
		Use:   "install --server URL --secret SECRET",
		Short: "Enrol this server and run its agent as a service (systemd, OpenRC or SysV init script)",
		Long: `Enrol this server with the one-time secret printed by ` + "`poolctl member add`" + `, then write the
agent's service for the init system (--init auto: systemd when it runs, else OpenRC when
installed, else a SysV init script), enable it at boot and start it. The one-line install
command that ` + "`member add`" + ` prints downloads poolctl and runs this.`,
		Example: `  poolctl agent install --server https://panel.example.com:8443 --secret pe1.... --allow-shell`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			init, err := install.ParseInit(initName)
			if err != nil {
				return err
			}
			if eo.Server == "" {
				g.fromEnv()
				eo.Server = g.server
			}
			if eo.Server == "" {
				return errors.New("--server https://HOST:PORT is required")
			}
			if bin == "" {
				if bin, err = os.Executable(); err != nil {
					return fmt.Errorf("find this executable (give --bin): %w", err)
				}
			}
			if bin, err = filepath.Abs(bin); err != nil {
				return err
			}
			if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("--bin %s: not an executable file", bin)
			}
			if eo.DataDir, err = filepath.Abs(eo.DataDir); err != nil {
				return err
			}
			host := install.System(g.stdout)
			svc := install.Service{Init: init, Bin: bin, DataDir: eo.DataDir, Args: givenFlags(cmd, "allow-shell", "accounts", "accounts-root", "log-level")}
			if init == install.Auto {
				var why string
				svc.Init, why = host.Detect()
				fmt.Fprintf(g.stdout, "init system: %s (%s)\n", svc.Init, why)
			}
			if svc.Init != install.None {
				// Refuse what would fail after the secret is spent.
				if os.Geteuid() != 0 {
					return errors.New("run as root: writing the service needs it (or --init none to only enrol)")
				}
				svc.StartStopDaemon = svc.Init == install.SysV && host.HasStartStopDaemon()
				if err := host.Check(svc); err != nil {
					return err
				}
			}
			eo.Version = Version
			st, err := agent.Enroll(cmd.Context(), eo)
			if errors.Is(err, agent.ErrAlreadyEnrolled) {
				return fmt.Errorf("%w; nothing was changed", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "enrolled as member %s of pool %s; credential saved in %s (mode 0600)\n",
				st.Member, st.Pool, filepath.Join(eo.DataDir, agent.StateFile))
			if svc.Init == install.None {
				fmt.Fprintf(g.stdout, "no service written (--init none); start the agent with:\n  %s\n", strings.Join(svc.Command(), " "))
				return nil
			}
			return host.Install(cmd.Context(), svc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&eo.Secret, "secret", "", "one-time enrolment secret (required)")
	f.StringVar(&eo.DataDir, "data", install.DefaultDataDir, "agent data directory")
	f.StringVar(&eo.Hostname, "hostname", "", "host name to report (default: this machine's)")
	f.BoolVar(&eo.Force, "force", false, "replace an existing enrolment in --data (and restart its service)")
	f.StringVar(&initName, "init", "auto", "init system: auto, systemd, openrc, sysv or none (enrol only and print how to start the agent)")
	f.StringVar(&bin, "bin", "", "the poolctl executable the service runs (default: this one)")
	// Written into the service's command line when given.
	f.BoolVar(&pass.allowShell, "allow-shell", false, "agent: run shell.exec jobs (the member must also allow them on the server)")
	f.StringVar(&pass.accounts, "accounts", "auto", "agent: account provider: auto, linux, cpanel or off")
	f.StringVar(&pass.accountsRoot, "accounts-root", "/home", "agent: linux provider's directory of account home directories")
	f.StringVar(&pass.logLevel, "log-level", "info", "agent: debug, info, warn or error")
	_ = cmd.MarkFlagRequired("secret")
	return cmd
}

// givenFlags are the flags among names that were given on the command
// line, as --name or --name=value.
func givenFlags(cmd *cobra.Command, names ...string) []string {
	var out []string
	for _, n := range names {
		if fl := cmd.Flags().Lookup(n); fl != nil && fl.Changed {
			if fl.Value.Type() == "bool" && fl.Value.String() == "true" {
				out = append(out, "--"+n)
				continue
			}
			out = append(out, "--"+n+"="+fl.Value.String())
		}
	}
	return out
}

func agentUninstallCmd(g *globals) *cobra.Command {
	var o install.UninstallOptions
	cmd := &cobra.Command{
		Use:   "uninstall [--purge]",
		Short: "Stop and remove the agent's service; --purge also removes its data directory (the credential) and the installed binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return errors.New("run as root: removing the service needs it")
			}
			o.Exe, _ = os.Executable()
			return install.System(g.stdout).Uninstall(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.DataDir, "data", "", "agent data directory to purge (default: the service's, else "+install.DefaultDataDir+")")
	cmd.Flags().BoolVar(&o.Purge, "purge", false, "also remove the data directory, the log and "+install.InstalledBinary+" when the service ran it")
	return cmd
}
