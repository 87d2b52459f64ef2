package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/poolctl/poolctl/api"
)

// component is one line of the member status table.
type component struct {
	Name, Version, Detail string
	Detected, Running     bool
	HasRunning            bool // the agent reports a running state for it
}

// components lists what the agent looked for, detected or not, from the
// stack its heartbeats carry.
func components(st api.Stack) []component {
	var out []component
	add := func(name string, c *api.Component) {
		x := component{Name: name}
		if c != nil {
			x.Detected, x.Running, x.Version, x.HasRunning = c.Detected, c.Running, c.Version, c.Detected
			if c.Flavor != "" {
				x.Detail = c.Flavor
			}
		}
		out = append(out, x)
	}
	add("cPanel", st.CPanel)
	add("OpenLiteSpeed", st.OpenLiteSpeed)
	add("MariaDB", st.MariaDB)
	g := component{Name: "Galera"}
	if st.Galera != nil && st.Galera.Enabled {
		g.Detected, g.HasRunning, g.Running = true, true, st.Galera.Ready
		g.Detail = fmt.Sprintf("cluster size %d, state %s", st.Galera.ClusterSize, st.Galera.State)
	}
	out = append(out, g)
	add("HAProxy", st.HAProxy)
	add("Exim", st.Exim)
	add("Postfix", st.Postfix)
	add("Dovecot", st.Dovecot)
	fw := component{Name: "Firewall"}
	if st.Firewall != nil && st.Firewall.Detected {
		fw.Detected, fw.HasRunning, fw.Running = true, true, st.Firewall.Active
		fw.Detail = fmt.Sprint(st.Firewall.Kinds)
	}
	return append(out, fw)
}

// serviceCheck is the result of the member's latest service.status job.
type serviceCheck struct {
	Job      api.Job
	Services []serviceLine
}

type serviceLine struct {
	Name              string
	Detected, Running bool
	Version           string
}

type memberStatusPage struct {
	Base
	Components []component
	Check      *serviceCheck
}

func (h *Handler) memberStatusPage(w http.ResponseWriter, r *http.Request) error {
	b, m, err := h.memberBase(w, r, "status", "status")
	if err != nil {
		return err
	}
	d := &memberStatusPage{Base: b, Components: components(m.Stack)}
	jobs, err := h.fl.ListJobs(r.Context(), m.Pool, m.Name)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Kind != "service.status" || j.Status != api.JobSucceeded {
			continue
		}
		var res struct {
			Components map[string]serviceLine `json:"components"`
			Services   map[string]serviceLine `json:"services"`
		}
		if json.Unmarshal(j.Result, &res) != nil {
			continue
		}
		c := &serviceCheck{Job: j}
		for _, set := range []map[string]serviceLine{res.Components, res.Services} {
			for name, s := range set {
				s.Name = name
				c.Services = append(c.Services, s)
			}
		}
		sort.Slice(c.Services, func(a, b int) bool { return c.Services[a].Name < c.Services[b].Name })
		d.Check = c
		break
	}
	h.render(w, r, http.StatusOK, "member_status", d)
	return nil
}

// checkServices queues a service.status job and shows it.
func (h *Handler) checkServices(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	j, err := h.fl.EnqueueJob(r.Context(), pool, name, api.JobCreate{Kind: "service.status", MaxAttempts: 1})
	if err != nil {
		return err
	}
	return h.redirect(w, r, fmt.Sprintf("%s/jobs/%d", memberURL(pool, name), j.ID), "")
}
