package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/poolctl/poolctl/api"
)

// zoneSigner is the zone service's DNSSEC side as the zone page needs it;
// internal/zones implements it. When Config.Zones does not, the page shows
// no DNSSEC card.
type zoneSigner interface {
	DNSSECStatus(ctx context.Context, zone string) (api.DNSSECStatus, error)
	EnableDNSSEC(ctx context.Context, zone string) (api.DNSSECStatus, error)
	DisableDNSSEC(ctx context.Context, zone string) error
	StartRollover(ctx context.Context, zone string, in api.DNSSECRolloverStart) (api.DNSSECStatus, error)
}

func (h *Handler) signer() zoneSigner {
	s, _ := h.zones.(zoneSigner)
	return s
}

// dnssecCard is the DNSSEC card of the zone page: state, keys, the DS to
// give the registrar and the rollover; its actions are for administrators.
type dnssecCard struct {
	Status api.DNSSECStatus
	Error  string
}

// DSPlain is a DS record with single spaces, as registrars take it.
func (c dnssecCard) DSPlain() []string {
	out := make([]string, 0, len(c.Status.DS))
	for _, r := range c.Status.DS {
		out = append(out, strings.Join(strings.Fields(r), " "))
	}
	return out
}

func (h *Handler) dnssecCard(r *http.Request, zone string) *dnssecCard {
	s := h.signer()
	if s == nil {
		return nil
	}
	st, err := s.DNSSECStatus(r.Context(), zone)
	if err != nil {
		return &dnssecCard{Status: api.DNSSECStatus{Zone: zone}, Error: h.message(r, err)}
	}
	return &dnssecCard{Status: st}
}

func (h *Handler) dnssecAction(w http.ResponseWriter, r *http.Request, do func(s zoneSigner, zone string) (string, error)) error {
	if h.zones == nil {
		return errNoZones
	}
	s := h.signer()
	if s == nil {
		return errNoZones
	}
	zone := r.PathValue("zone")
	msg, err := do(s, zone)
	if err != nil {
		return h.showZone(w, r, statusOf(err), recordForm{Type: "A"}, err)
	}
	return h.redirect(w, r, "/zones/"+url.PathEscape(zone)+"#dnssec-title", msg)
}

func (h *Handler) enableDNSSEC(w http.ResponseWriter, r *http.Request) error {
	return h.dnssecAction(w, r, func(s zoneSigner, zone string) (string, error) {
		if _, err := s.EnableDNSSEC(r.Context(), zone); err != nil {
			return "", err
		}
		return "Zone " + zone + " is signed. Give the registrar its DS record.", nil
	})
}

func (h *Handler) disableDNSSEC(w http.ResponseWriter, r *http.Request) error {
	return h.dnssecAction(w, r, func(s zoneSigner, zone string) (string, error) {
		if err := s.DisableDNSSEC(r.Context(), zone); err != nil {
			return "", err
		}
		return "Zone " + zone + " is no longer signed; its keys are deleted.", nil
	})
}

func (h *Handler) rolloverDNSSEC(w http.ResponseWriter, r *http.Request) error {
	return h.dnssecAction(w, r, func(s zoneSigner, zone string) (string, error) {
		key := strings.ToLower(strings.TrimSpace(r.PostFormValue("key")))
		st, err := s.StartRollover(r.Context(), zone, api.DNSSECRolloverStart{Key: key})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s rollover started: %s", strings.ToUpper(key), st.Rollover.Description), nil
	})
}
