package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/monitor"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/notify/email"
	"github.com/poolctl/poolctl/internal/notify/webhook"
	"github.com/poolctl/poolctl/internal/store"
)

// NotifyOptions configure notifications and the monitor in poolctl server.
type NotifyOptions struct {
	PublicURL     string        // the dashboard's address in messages (default: the listen URL)
	MemberDownFor time.Duration // a member is down this long before its alert fires
	Recover       time.Duration // and up this long before it resolves
	GroupWait     time.Duration
	Remind        time.Duration
	Backoff       time.Duration // first retry wait of a failed delivery
}

func notifyFlags(f *pflag.FlagSet, o *NotifyOptions) {
	f.StringVar(&o.PublicURL, "public-url", "", "the dashboard's address as operators reach it, linked from alerts (default: the listen URL)")
	f.DurationVar(&o.MemberDownFor, "monitor-member-down-for", 0, "how long a member must be down before its alert fires (after the pool's heartbeat timeout)")
	f.DurationVar(&o.Recover, "monitor-recover", 30*time.Second, "how long a member must be healthy again before its alert resolves")
	f.DurationVar(&o.GroupWait, "monitor-group-wait", 500*time.Millisecond, "how long an alert waits for others of its pool to share one message")
	f.DurationVar(&o.Remind, "monitor-remind", 4*time.Hour, "repeat a firing alert this often (negative: never)")
	f.DurationVar(&o.Backoff, "notify-backoff", notify.DefaultBackoff, "the wait before a failed delivery's second attempt, doubled after each (at most 10m)")
}

// startNotify runs the delivery workers.
func (e *engines) startNotify(ctx context.Context, o ServerOptions, st *store.Store, fl *fleet.Service, log *slog.Logger) error {
	svc, err := notify.New(notify.Config{Store: st, Drivers: []notify.Driver{email.Driver{}, webhook.Driver{}}, MasterKey: o.master,
		Holder: replicaID(o.Data), Logger: log, Backoff: o.Notify.Backoff,
		Events: func(ctx context.Context, ev api.Event) { fl.Emit(ctx, ev) }, Observe: e.metrics.Delivery})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx) }()
	e.stops = append(e.stops, func() { stop(); <-done })
	e.notify = svc
	return nil
}

// startMonitor runs the monitor once the server's URL is known; it only
// acts while this replica leads (the failover engine's lease).
func (e *engines) startMonitor(ctx context.Context, o ServerOptions, st *store.Store, url string, log *slog.Logger) func() {
	if e.notify == nil {
		return func() {}
	}
	if o.Notify.PublicURL != "" {
		url = o.Notify.PublicURL
	}
	e.notifyAdmin.DashboardURL = url
	eng := monitor.New(monitor.Config{Store: st, Queue: e.notify, DashboardURL: url, Logger: log, Leading: e.leading, Maintenance: e.windows,
		MemberDown: &monitor.Rule{For: o.Notify.MemberDownFor, Recover: o.Notify.Recover}, GroupWait: o.Notify.GroupWait, Remind: o.Notify.Remind})
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.Run(runCtx); err != nil && runCtx.Err() == nil {
			log.Error("monitor stopped", "err", err)
		}
	}()
	return func() { stop(); <-done }
}

func newNotifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Notification channels (email, webhook), test messages and the delivery history",
		Long: `Alerts are delivered to channels: email over SMTP, or a webhook (JSON POST signed
with HMAC-SHA256). Route a pool's alerts to channels with poolctl monitor set
(docs/notifications.md).`,
		Example: `  poolctl notify channel add email ops --smtp mail.example.com:465 --tls implicit --from poolctl@example.com --to ops@example.com --user poolctl --password-file pw
  poolctl notify channel add webhook hook --url https://hooks.example.com/poolctl --secret-file secret
  poolctl notify test ops
  poolctl notify deliveries`,
	}
	ch := &cobra.Command{Use: "channel", Short: "Add, list and remove notification channels"}
	ch.AddCommand(channelAddCmd(g), channelListCmd(g), channelRemoveCmd(g))
	cmd.AddCommand(ch, notifyTestCmd(g), notifyDeliveriesCmd(g))
	return cmd
}

func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

func channelAddCmd(g *globals) *cobra.Command {
	var (
		smtp, from, user, pwFile, tlsMode, auth string
		to                                      []string
		hookURL, secretFile, format, chatID     string
	)
	add := &cobra.Command{Use: "add", Short: "Add a channel: email or webhook"}
	em := &cobra.Command{
		Use:     "email NAME --smtp HOST:PORT --from ADDR --to ADDR [--user U --password-file F] [--tls implicit|starttls|none]",
		Short:   "Add an e-mail channel (SMTP; the password is sealed on the server and never shown)",
		Example: "  poolctl notify channel add email ops --smtp mail.example.com:587 --from poolctl@example.com --to ops@example.com --user poolctl --password-file pw",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readSecret(pwFile)
			if err != nil {
				return fmt.Errorf("--password-file: %w", err)
			}
			return addChannel(cmd, g, api.NotifyChannelCreate{Name: args[0], Kind: api.ChannelEmail, Secret: pw,
				Email: &api.EmailChannel{SMTP: smtp, From: from, To: to, User: user, Auth: auth, TLS: tlsMode}})
		},
	}
	f := em.Flags()
	f.StringVar(&smtp, "smtp", "", "SMTP server HOST:PORT")
	f.StringVar(&from, "from", "", "sender address")
	f.StringSliceVar(&to, "to", nil, "recipient address (repeatable)")
	f.StringVar(&user, "user", "", "SMTP AUTH user")
	f.StringVar(&pwFile, "password-file", "", "file holding the SMTP password")
	f.StringVar(&tlsMode, "tls", api.TLSStartTLS, "implicit, starttls or none")
	f.StringVar(&auth, "auth", "", "AUTH mechanism: plain (default) or login")
	wh := &cobra.Command{
		Use:     "webhook NAME --url URL [--secret-file F] [--format generic|slack|telegram]",
		Short:   "Add a webhook channel (signed with the secret: X-Poolctl-Signature: sha256=HEX)",
		Example: "  poolctl notify channel add webhook hook --url https://hooks.example.com/poolctl --secret-file secret",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sec, err := readSecret(secretFile)
			if err != nil {
				return fmt.Errorf("--secret-file: %w", err)
			}
			return addChannel(cmd, g, api.NotifyChannelCreate{Name: args[0], Kind: api.ChannelWebhook, Secret: sec,
				Webhook: &api.WebhookChannel{URL: hookURL, Format: format, ChatID: chatID}})
		},
	}
	wf := wh.Flags()
	wf.StringVar(&hookURL, "url", "", "the receiver's URL")
	wf.StringVar(&secretFile, "secret-file", "", "file holding the signing secret")
	wf.StringVar(&format, "format", api.WebhookGeneric, "generic, slack or telegram")
	wf.StringVar(&chatID, "chat-id", "", "telegram: the chat to post to")
	add.AddCommand(em, wh)
	return add
}

func addChannel(cmd *cobra.Command, g *globals, in api.NotifyChannelCreate) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ch, err := c.AddChannel(cmd.Context(), in)
	if err != nil {
		return err
	}
	return g.emit(ch, func(w *tabwriter.Writer) { fmt.Fprintf(w, "channel %s (%s) added\n", ch.Name, ch.Kind) })
}

func channelTarget(ch api.NotifyChannel) string {
	switch {
	case ch.Email != nil:
		return ch.Email.SMTP + " → " + strings.Join(ch.Email.To, ",") + " (tls " + ch.Email.TLS + ")"
	case ch.Webhook != nil:
		return ch.Webhook.URL + " (" + ch.Webhook.Format + ")"
	}
	return ""
}

func channelListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List the channels (secrets are never shown)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cs, err := c.ListChannels(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(api.List[api.NotifyChannel]{Items: cs}, func(w *tabwriter.Writer) {
				row(w, "NAME", "KIND", "TARGET", "SECRET")
				for _, ch := range cs {
					row(w, ch.Name, ch.Kind, channelTarget(ch), map[bool]string{true: "sealed", false: "-"}[ch.HasSecret])
				}
			})
		},
	}
}

func channelRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "remove NAME", Short: "Remove a channel with its delivery history and routes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RemoveChannel(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "channel %s removed\n", args[0])
			return nil
		},
	}
}

func notifyTestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "test CHANNEL", Short: "Send a test message to a channel now and report the outcome", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.TestChannel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := g.emit(d, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "test message %d to %s: %s\n", d.ID, d.Channel, d.Status)
				if d.LastError != "" {
					fmt.Fprintf(w, "error: %s\n", d.LastError)
				}
			}); err != nil {
				return err
			}
			if d.Status != api.DeliveryDelivered {
				return fmt.Errorf("the test message to %s was not delivered: %s", d.Channel, d.LastError)
			}
			return nil
		},
	}
}

func notifyDeliveriesCmd(g *globals) *cobra.Command {
	var (
		channel, pool, status string
		limit                 int
	)
	cmd := &cobra.Command{
		Use: "deliveries [--channel C] [--pool P] [--status S]", Short: "The delivery history, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ds, err := c.Deliveries(cmd.Context(), channel, pool, status, limit)
			if err != nil {
				return err
			}
			return g.emit(api.List[api.NotifyDelivery]{Items: ds}, func(w *tabwriter.Writer) {
				row(w, "ID", "CREATED", "CHANNEL", "KIND", "STATUS", "ATTEMPTS", "SUBJECT", "LAST ERROR")
				for _, d := range ds {
					row(w, d.ID, d.CreatedAt.Format(time.RFC3339), d.Channel, d.Kind, d.Status, fmt.Sprintf("%d/%d", d.Attempts, d.MaxAttempts), d.Subject, d.LastError)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&channel, "channel", "", "only this channel")
	f.StringVar(&pool, "pool", "", "only this pool")
	f.StringVar(&status, "status", "", "pending, sending, delivered or failed")
	f.IntVar(&limit, "limit", 100, "at most this many (1-1000)")
	return cmd
}

func newMonitorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Which channels hear a pool's alerts, and its incidents",
		Example: `  poolctl monitor set web --channel ops --severity warning
  poolctl monitor show web`,
	}
	var channel, severity string
	set := &cobra.Command{
		Use: "set POOL --channel NAME [--severity critical|warning]", Short: "Send a pool's alerts of a severity and worse to a channel", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ms, err := c.SetMonitorRoute(cmd.Context(), args[0], channel, severity)
			if err != nil {
				return err
			}
			return printMonitor(g, ms)
		},
	}
	set.Flags().StringVar(&channel, "channel", "", "the channel (required)")
	set.Flags().StringVar(&severity, "severity", api.SeverityWarning, "critical (critical alerts only) or warning (warning and critical)")
	_ = set.MarkFlagRequired("channel")
	var unsetChannel string
	unset := &cobra.Command{
		Use: "unset POOL --channel NAME", Short: "Stop sending a pool's alerts to a channel", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.RemoveMonitorRoute(cmd.Context(), args[0], unsetChannel)
		},
	}
	unset.Flags().StringVar(&unsetChannel, "channel", "", "the channel (required)")
	_ = unset.MarkFlagRequired("channel")
	show := &cobra.Command{
		Use: "show POOL", Short: "A pool's routes and latest incidents", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ms, err := c.MonitorSettings(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printMonitor(g, ms)
		},
	}
	cmd.AddCommand(set, unset, show)
	return cmd
}

func printMonitor(g *globals, ms api.MonitorSettings) error {
	return g.emit(ms, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "pool %s\n", ms.Pool)
		row(w, "CHANNEL", "SEVERITY")
		for _, r := range ms.Routes {
			row(w, r.Channel, r.Severity+map[bool]string{true: " and critical", false: " only"}[r.Severity == api.SeverityWarning])
		}
		if len(ms.Incidents) > 0 {
			fmt.Fprintln(w)
			row(w, "INCIDENT", "KIND", "SEVERITY", "MEMBER", "STATE", "SINCE", "CAUSE")
			for _, in := range ms.Incidents {
				row(w, in.ID, in.Kind, in.Severity, in.Member, in.State, in.Since.Format(time.RFC3339), in.Cause)
			}
		}
	})
}
