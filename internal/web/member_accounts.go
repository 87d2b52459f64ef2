package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/poolctl/poolctl/api"
)

// accountRow is one hosting account as a member's Accounts tab lists it.
type accountRow struct {
	api.Account
	DomainText, Size, RPO string
	// ProtectionURL links to the account's protection; ProtectURL, when it
	// has none, to the create form filled in for it.
	ProtectionURL, ProtectURL string
}

type accountsPage struct {
	Base
	Available bool
	List      api.AccountList
	Rows      []accountRow
}

func (h *Handler) accountsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showAccounts(w, r, false)
}

// refreshAccounts asks the member's agent for its accounts now and shows
// the answer (a redirect would ask again).
func (h *Handler) refreshAccounts(w http.ResponseWriter, r *http.Request) error {
	return h.showAccounts(w, r, true)
}

func (h *Handler) showAccounts(w http.ResponseWriter, r *http.Request, refresh bool) error {
	b, m, err := h.memberBase(w, r, "accounts", "accounts")
	if err != nil {
		return err
	}
	d := &accountsPage{Base: b, Available: h.prot != nil}
	status := http.StatusOK
	if h.prot != nil {
		al, err := h.prot.Accounts(r.Context(), m.Pool, m.Name, refresh)
		if err != nil {
			d.Error, status = h.message(r, err), statusOf(err)
		}
		d.List = al
		for _, a := range al.Items {
			row := accountRow{Account: a, DomainText: domainList(a.Domains), Size: humanBytes(uint64(max(a.DiskBytes, 0))), RPO: "—"}
			if a.Protection != 0 {
				row.ProtectionURL, row.RPO = protectionURL(m.Pool, a.Name), rpoText(a.RPOSeconds)
			} else {
				row.ProtectURL = "/protections?" + url.Values{"pool": {m.Pool}, "account": {a.Name}, "source": {m.Name}}.Encode() + "#create"
			}
			d.Rows = append(d.Rows, row)
		}
	}
	if refresh && d.Error == "" && !d.List.Stale {
		d.Flash = "Accounts read from the agent of " + m.Name + " just now."
	}
	h.render(w, r, status, "member_accounts", d)
	return nil
}

// domainList shows an account's domains, the first few by name.
func domainList(ds []string) string {
	const shown = 3
	if len(ds) <= shown {
		return strings.Join(ds, ", ")
	}
	return strings.Join(ds[:shown], ", ") + ", …"
}
