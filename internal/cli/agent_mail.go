package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/agent"
	"github.com/poolctl/poolctl/internal/agent/mail"
)

// mailOptions are the agent's linked-nodes flags: where the member's
// Dovecot and Postfix keep the generic mail layout (docs/mail-members.md)
// and the ports they listen on. With --mail-root set the agent runs the
// mail.* jobs of distribution runs; without it it offers none of them.
type mailOptions struct {
	cfg   mail.Config
	ports api.MailPorts
}

func (o *mailOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.cfg.MailRoot, "mail-root", "", "linked nodes: root of the generic mail layout (Maildirs, passwd-files, maps; owned by the mail user, see docs/mail-members.md); set it to run the mail.* jobs")
	f.StringVar(&o.cfg.DovecotConf, "mail-dovecot-conf", "/etc/dovecot/dovecot.conf", "linked nodes: dovecot.conf of the running Dovecot (doveadm -c)")
	f.StringVar(&o.cfg.PostfixDir, "mail-postfix-dir", "/etc/postfix", "linked nodes: Postfix configuration directory (postfix -c)")
	f.StringVar(&o.cfg.ProxyPassdb, "mail-proxy-passdb", "", "linked nodes, on a parent: the Dovecot passwd-file of proxied users, e.g. /etc/dovecot/poolctl-proxy.passwd")
	f.StringVar(&o.cfg.TransportMap, "mail-transport-map", "", "linked nodes, on a parent: the Postfix texthash transport table, e.g. /etc/postfix/poolctl-transport")
	f.IntVar(&o.ports.IMAP, "mail-imap-port", 143, "linked nodes, on a child: the port its Dovecot serves IMAP on (the parent's proxy connects to it)")
	f.IntVar(&o.ports.POP3, "mail-pop3-port", 110, "linked nodes, on a child: the port its Dovecot serves POP3 on")
	f.IntVar(&o.ports.SMTP, "mail-smtp-port", 25, "linked nodes, on a child: the port its Postfix receives SMTP on (the parent's transport relays to it)")
}

// register adds the mail.* jobs to a when --mail-root is set.
func (o *mailOptions) register(a *agent.Agent) error {
	if o.cfg.MailRoot == "" {
		return nil
	}
	for _, p := range []struct {
		name string
		port int
	}{{"--mail-imap-port", o.ports.IMAP}, {"--mail-pop3-port", o.ports.POP3}, {"--mail-smtp-port", o.ports.SMTP}} {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("%s %d: want a port from 1 to 65535", p.name, p.port)
		}
	}
	m, err := mail.New(o.cfg)
	if err != nil {
		return fmt.Errorf("--mail-*: %w", err)
	}
	a.RegisterMail(m, o.ports)
	return nil
}
