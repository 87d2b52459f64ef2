package web

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// stackTabs are the member's stack tabs, in order. Their content grows in
// later issues; today each shows what the agent detected.
var stackTabs = []struct{ Key, Title string }{
	{"cpanel", "cPanel"}, {"openlitespeed", "OpenLiteSpeed"}, {"mariadb", "MariaDB"}, {"security", "Security"},
}

type stackPage struct {
	Base
	Tab, TabTitle string
	Detected      bool
	Parts         []component
	Updates       *int
	Security      *int
}

func (h *Handler) stackPage(w http.ResponseWriter, r *http.Request) error {
	tab := r.PathValue("tab")
	title := ""
	for _, t := range stackTabs {
		if t.Key == tab {
			title = t.Title
		}
	}
	if title == "" {
		return notFound(r)
	}
	b, m, err := h.memberBase(w, r, tab, title)
	if err != nil {
		return err
	}
	d := &stackPage{Base: b, Tab: tab, TabTitle: title}
	all := components(m.Stack)
	pick := func(names ...string) {
		for _, c := range all {
			for _, n := range names {
				if c.Name == n {
					d.Parts = append(d.Parts, c)
					d.Detected = d.Detected || c.Detected
				}
			}
		}
	}
	switch tab {
	case "cpanel":
		pick("cPanel", "Exim", "Dovecot")
		d.Detected = detected(m.Stack.CPanel)
	case "openlitespeed":
		pick("OpenLiteSpeed")
	case "mariadb":
		pick("MariaDB", "Galera")
		d.Detected = detected(m.Stack.MariaDB)
	case "security":
		pick("Firewall")
		d.Updates, d.Security = m.Stack.PendingUpdates, m.Stack.SecurityUpdates
		d.Detected = d.Detected || d.Updates != nil
	}
	h.render(w, r, http.StatusOK, "member_stack", d)
	return nil
}

func detected(c *api.Component) bool { return c != nil && c.Detected }
