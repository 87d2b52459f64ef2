package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

var errNoZones = apperr.New(apperr.Unavailable, "DNS zones are not available on this server")

// recordTypes are offered in the add-record form.
var recordTypes = []string{"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA", "PTR"}

type zoneForm struct{ Name, Nameservers, Email string }

type zonesPage struct {
	Base
	Zones     []api.Zone
	Available bool
	Form      zoneForm
	Providers *providersCard // the DNS providers card
}

func (h *Handler) zonesPage(w http.ResponseWriter, r *http.Request) error {
	return h.showZones(w, r, http.StatusOK, zoneForm{}, nil)
}

func (h *Handler) showZones(w http.ResponseWriter, r *http.Request, status int, f zoneForm, formErr error) error {
	return h.showZonesWith(w, r, status, f, formErr, providerForm{}, nil)
}

// showZonesWith is showZones with the DNS providers card's form and error.
func (h *Handler) showZonesWith(w http.ResponseWriter, r *http.Request, status int, f zoneForm, formErr error, pf providerForm, pErr error) error {
	d := &zonesPage{Base: h.pageBase(w, r, "Zones", "zones"), Available: h.zones != nil, Form: f}
	var err error
	if d.Providers, err = h.providersCard(r, pf, pErr); err != nil {
		return err
	}
	if h.zones != nil {
		zs, err := h.zones.List(r.Context())
		if err != nil {
			return err
		}
		d.Zones = zs
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "zones", d)
	return nil
}

func (h *Handler) createZone(w http.ResponseWriter, r *http.Request) error {
	if h.zones == nil {
		return errNoZones
	}
	f := zoneForm{Name: strings.TrimSpace(r.PostFormValue("name")), Nameservers: strings.TrimSpace(r.PostFormValue("nameservers")),
		Email: strings.TrimSpace(r.PostFormValue("email"))}
	in := api.ZoneCreate{Name: f.Name, Email: f.Email}
	in.Nameservers = splitList(f.Nameservers)
	z, err := h.zones.Create(r.Context(), in)
	if err != nil {
		return h.showZones(w, r, statusOf(err), f, err)
	}
	return h.redirect(w, r, "/zones/"+url.PathEscape(z.Name), "Zone "+z.Name+" created.")
}

type recordForm struct{ Name, Type, TTL, Value string }

type zonePage struct {
	Base
	Zone    api.Zone
	Records []api.Record
	Types   []string
	Form    recordForm
	Confirm string
	DNSSEC  *dnssecCard // nil: the zone service does not sign
}

func (h *Handler) zonePage(w http.ResponseWriter, r *http.Request) error {
	return h.showZone(w, r, http.StatusOK, recordForm{Type: "A"}, nil)
}

func (h *Handler) showZone(w http.ResponseWriter, r *http.Request, status int, f recordForm, formErr error) error {
	if h.zones == nil {
		return errNoZones
	}
	z, err := h.zones.Get(r.Context(), r.PathValue("zone"))
	if err != nil {
		return err
	}
	recs, err := h.zones.Records(r.Context(), z.Name)
	if err != nil {
		return err
	}
	d := &zonePage{Base: h.pageBase(w, r, "Zone "+z.Name, "zones"), Zone: z, Records: recs, Types: recordTypes, Form: f,
		DNSSEC: h.dnssecCard(r, z.Name)}
	if formErr != nil {
		d.Error = h.message(r, formErr)
		d.Confirm = r.PostFormValue("confirm")
	}
	h.render(w, r, status, "zone", d)
	return nil
}

func (h *Handler) addRecord(w http.ResponseWriter, r *http.Request) error {
	if h.zones == nil {
		return errNoZones
	}
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := recordForm{Name: v("name"), Type: strings.ToUpper(v("type")), TTL: v("ttl"), Value: v("value")}
	ttl, err := parseInt("TTL", f.TTL)
	if err == nil {
		_, err = h.zones.AddRecord(r.Context(), r.PathValue("zone"), api.RecordCreate{Name: f.Name, Type: f.Type, TTL: ttl, Value: f.Value})
	}
	if err != nil {
		return h.showZone(w, r, statusOf(err), f, err)
	}
	return h.redirect(w, r, "/zones/"+url.PathEscape(r.PathValue("zone")), fmt.Sprintf("Record %s %s added.", f.Name, f.Type))
}

func (h *Handler) deleteRecord(w http.ResponseWriter, r *http.Request) error {
	if h.zones == nil {
		return errNoZones
	}
	zone := r.PathValue("zone")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return apperr.New(apperr.NotFound, "record %q not found", r.PathValue("id"))
	}
	what := fmt.Sprintf("Record %d", id)
	if recs, err := h.zones.Records(r.Context(), zone); err == nil {
		for _, rec := range recs {
			if rec.ID == id {
				what = fmt.Sprintf("Record %s %s %s", rec.Name, rec.Type, rec.Value)
			}
		}
	}
	if err := h.zones.DeleteRecord(r.Context(), zone, id); err != nil {
		return h.showZone(w, r, statusOf(err), recordForm{Type: "A"}, err)
	}
	return h.redirect(w, r, "/zones/"+url.PathEscape(zone), what+" deleted.")
}

func (h *Handler) deleteZone(w http.ResponseWriter, r *http.Request) error {
	if h.zones == nil {
		return errNoZones
	}
	zone := r.PathValue("zone")
	if strings.TrimSuffix(strings.TrimSpace(r.PostFormValue("confirm")), ".") != strings.TrimSuffix(zone, ".") {
		return h.showZone(w, r, http.StatusBadRequest, recordForm{Type: "A"},
			apperr.New(apperr.Invalid, "type the zone's name, %s, to confirm its deletion", zone))
	}
	if err := h.zones.Delete(r.Context(), zone); err != nil {
		return h.showZone(w, r, statusOf(err), recordForm{Type: "A"}, err)
	}
	return h.redirect(w, r, "/zones", "Zone "+zone+" deleted.")
}
