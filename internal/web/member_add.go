package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/release"
)

// memberForm holds the member fields as typed, for re-display.
type memberForm struct {
	Name, Address, AllowedIPs, Probe, Location, Lat, Lon, Role, Priority string
	Shell                                                                bool
}

func formOf(m api.Member) memberForm {
	f := memberForm{Name: m.Name, Address: m.Address, AllowedIPs: strings.Join(m.AllowedCIDRs, "\n"), Probe: m.ProbeURL,
		Location: m.Location.Text, Role: m.Role, Priority: strconv.Itoa(m.Priority), Shell: m.ShellEnabled}
	if m.Location.Lat != nil && m.Location.Lon != nil {
		f.Lat = strconv.FormatFloat(*m.Location.Lat, 'f', -1, 64)
		f.Lon = strconv.FormatFloat(*m.Location.Lon, 'f', -1, 64)
	}
	return f
}

func readMemberForm(r *http.Request) memberForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return memberForm{Name: v("name"), Address: v("address"), AllowedIPs: v("allowed_ips"), Probe: v("probe"),
		Location: v("location"), Lat: v("lat"), Lon: v("lon"), Role: v("role"), Priority: v("priority"), Shell: v("shell") == "on"}
}

// cidrs splits the allowed-IPs field on new lines, commas and spaces.
func (f memberForm) cidrs() []string {
	return append([]string{}, splitList(f.AllowedIPs)...)
}

// splitList splits a form field on commas and white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (f memberForm) location() (api.Location, error) {
	loc := api.Location{Text: f.Location}
	if f.Lat == "" && f.Lon == "" {
		return loc, nil
	}
	lat, err1 := strconv.ParseFloat(f.Lat, 64)
	lon, err2 := strconv.ParseFloat(f.Lon, 64)
	if err1 != nil || err2 != nil {
		return loc, apperr.New(apperr.Invalid, "latitude %q and longitude %q: want decimal degrees like 50.11 and 8.68", f.Lat, f.Lon)
	}
	loc.Lat, loc.Lon = &lat, &lon
	return loc, nil
}

type newMemberPage struct {
	Base
	Form  memberForm
	Added *api.MemberAdded // set once added: the one-time secret
	URL   string           // the server's URL, for the enrol command
}

func (h *Handler) newMemberPage(w http.ResponseWriter, r *http.Request) error {
	return h.showNewMember(w, r, http.StatusOK, memberForm{}, nil, nil)
}

func (h *Handler) showNewMember(w http.ResponseWriter, r *http.Request, status int, f memberForm, added *api.MemberAdded, formErr error) error {
	_, nav, err := h.poolNav(r.Context(), r.PathValue("pool"), "members")
	if err != nil {
		return err
	}
	title := "add member"
	if added != nil {
		title = "member added"
	}
	d := &newMemberPage{Base: h.pageBase(w, r, nav.Name+" · "+title, "pools"), Form: f, Added: added, URL: serverURL(r)}
	d.Pool = nav
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "member_new", d)
	return nil
}

// serverURL is the address the browser reached this server at, which is
// what an agent on the operator's network would use too.
func serverURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// installCommand is the one-line agent install with secret, for the URL
// the browser reached this server at; "" when the server offers no agent
// downloads or is reached over plain HTTP.
func (h *Handler) installCommand(r *http.Request, secret string) string {
	if h.cfg.Releases == nil {
		return ""
	}
	return release.InstallCommand(serverURL(r), h.cfg.Releases.TLSPin(), secret)
}

// addMember adds a member and shows its one-time enrolment secret on the
// answer page itself: it is never stored in a form of its own.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request) error {
	f := readMemberForm(r)
	loc, err := f.location()
	var prio int
	if err == nil {
		prio, err = parseInt("priority", f.Priority)
	}
	var added api.MemberAdded
	if err == nil {
		added, err = h.fl.AddMember(r.Context(), r.PathValue("pool"), api.MemberCreate{Name: f.Name, Address: f.Address,
			AllowedCIDRs: f.cidrs(), ProbeURL: f.Probe, Location: loc, Role: f.Role, Priority: prio, ShellEnabled: f.Shell})
	}
	if err != nil {
		return h.showNewMember(w, r, statusOf(err), f, nil, err)
	}
	added.InstallCommand = h.installCommand(r, added.EnrollmentSecret)
	return h.showNewMember(w, r, http.StatusCreated, f, &added, nil)
}
