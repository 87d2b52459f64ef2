package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/internal/agent"
)

func newAgentCmd(g *globals) *cobra.Command {
	var (
		cfg      agent.Config
		logLevel string
		ao       accountOptions
		mo       mailOptions
	)
	cmd := &cobra.Command{
		Use:   "agent --data DIR",
		Short: "Run the agent on a member: heartbeats, facts, stack detection, jobs (outbound HTTPS only)",
		Example: `  poolctl agent enroll --server https://panel.example.com:8443 --secret pe1.... --data /etc/poolctl-agent
  poolctl agent --data /etc/poolctl-agent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(g.stderr, logLevel)
			if err != nil {
				return err
			}
			cfg.Logger, cfg.Version = log, Version
			if cfg.MariaDBDSN == "" {
				cfg.MariaDBDSN = os.Getenv("POOLCTL_MARIADB_DSN") // not the flag's default: --help would print it
			}
			if cfg.Accounts, err = ao.build(cfg.MariaDBDSN, log.With("component", "accounts")); err != nil {
				return err
			}
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			if err := mo.register(a); err != nil {
				return err
			}
			err = a.Run(cmd.Context())
			if errors.Is(err, agent.ErrRemoved) {
				return fmt.Errorf("%w; enrol again with a new secret to rejoin", err)
			}
			if cmd.Context().Err() != nil {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "", "agent data directory holding agent.json (required)")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 0, "heartbeat interval (default 2s)")
	f.BoolVar(&cfg.AllowShell, "allow-shell", false, "run shell.exec jobs (the member must also allow them on the server)")
	f.StringVar(&cfg.MariaDBDSN, "mariadb-dsn", "", "MariaDB credentials for Galera detection, e.g. root@tcp(127.0.0.1:3306)/ (env POOLCTL_MARIADB_DSN)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&ao.provider, "accounts", "auto", "account provider for account protection: auto (cpanel when cPanel is installed, else linux), linux, cpanel or off")
	f.StringVar(&ao.root, "accounts-root", "/home", "linux provider: directory holding the accounts' home directories (an account is a directory with a .poolctl-account.json manifest)")
	mo.flags(f)
	_ = cmd.MarkFlagRequired("data")

	var eo agent.EnrollOptions
	enroll := &cobra.Command{
		Use:   "enroll --server URL --secret SECRET --data DIR",
		Short: "Enrol this server with the one-time secret printed by `poolctl member add`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			eo.Version = Version
			if eo.Server == "" {
				g.fromEnv()
				eo.Server = g.server
			}
			st, err := agent.Enroll(cmd.Context(), eo)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "enrolled as member %s of pool %s at %s\ncredential saved in %s/agent.json (mode 0600)\nstart the agent with: poolctl agent --data %s\n",
				st.Member, st.Pool, st.EnrolledAt.Local().Format(time.RFC3339), eo.DataDir, eo.DataDir)
			return nil
		},
	}
	ef := enroll.Flags()
	ef.StringVar(&eo.Secret, "secret", "", "one-time enrolment secret (required)")
	ef.StringVar(&eo.DataDir, "data", "", "agent data directory (required)")
	ef.StringVar(&eo.Hostname, "hostname", "", "host name to report (default: this machine's)")
	ef.BoolVar(&eo.Force, "force", false, "replace an existing enrolment in --data")
	_ = enroll.MarkFlagRequired("secret")
	_ = enroll.MarkFlagRequired("data")
	cmd.AddCommand(enroll, agentInstallCmd(g), agentUninstallCmd(g), agentUpdateWatchCmd(g))
	return cmd
}

// agentUpdateWatchCmd is the rollback watchdog a self-update starts from
// the previous binary (internal/agent/update.go); operators do not run it.
func agentUpdateWatchCmd(g *globals) *cobra.Command {
	var o agent.WatchOptions
	var logLevel string
	cmd := &cobra.Command{
		Use:    "update-watch --data DIR",
		Short:  "Watch a self-update and restore the previous binary unless the new one heartbeats (started by the agent)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(g.stderr, logLevel)
			if err != nil {
				return err
			}
			o.Logger = log
			o.ServiceManaged = os.Getenv("INVOCATION_ID") != "" // set by systemd for its units
			return agent.Watch(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.DataDir, "data", "", "agent data directory (required)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}
