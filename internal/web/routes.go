package web

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// routes is the dashboard's one route table. Every state-changing route is
// a POST, behind http.CrossOriginProtection and the session's CSRF token.
func (h *Handler) routes() {
	m := http.NewServeMux()
	h.mux = m
	m.Handle("GET /static/", h.static)

	m.Handle("GET /login", h.serve(h.loginPage))
	m.Handle("POST /login", h.serve(h.login))
	m.Handle("POST /logout", h.page(h.logout))
	m.Handle("POST /logout-everywhere", h.page(h.logoutEverywhere))
	m.Handle("GET /account", h.page(h.accountPage))
	m.Handle("POST /account/password", h.page(h.changePassword))

	m.Handle("GET /{$}", h.page(h.poolsPage))
	m.Handle("POST /pools", h.page(h.createPool))
	m.Handle("GET /pools/{pool}", h.page(h.overviewPage))
	m.Handle("GET /pools/{pool}/tiles", h.page(h.tilesFragment))
	m.Handle("GET /pools/{pool}/live", h.page(h.poolLive))
	m.Handle("POST /pools/{pool}/ack", h.page(h.ackBanner))
	m.Handle("GET /pools/{pool}/members/{member}/make-active", h.page(h.makeActiveConfirm))
	m.Handle("POST /pools/{pool}/members/{member}/make-active", h.page(h.makeActive))
	m.Handle("GET /pools/{pool}/settings", h.page(h.poolSettingsPage))
	m.Handle("POST /pools/{pool}/settings", h.page(h.updatePool))
	m.Handle("POST /pools/{pool}/delete", h.page(h.deletePool))

	m.Handle("GET /pools/{pool}/members", h.page(h.poolMembersPage))
	m.Handle("GET /pools/{pool}/members/new", h.page(h.newMemberPage))
	m.Handle("POST /pools/{pool}/members", h.page(h.addMember))
	m.Handle("GET /pools/{pool}/members/{member}", h.page(h.memberPage))
	m.Handle("GET /pools/{pool}/members/{member}/live", h.page(h.memberLive))
	m.Handle("GET /pools/{pool}/members/{member}/status", h.page(h.memberStatusPage))
	m.Handle("POST /pools/{pool}/members/{member}/status/check", h.page(h.checkServices))
	m.Handle("GET /pools/{pool}/members/{member}/jobs", h.page(h.jobsPage))
	m.Handle("POST /pools/{pool}/members/{member}/jobs", h.page(h.runJob))
	m.Handle("GET /pools/{pool}/members/{member}/jobs/{id}", h.page(h.jobPage))
	m.Handle("GET /pools/{pool}/members/{member}/jobs/{id}/stream", h.page(h.jobStream))
	m.Handle("POST /pools/{pool}/members/{member}/jobs/{id}/cancel", h.page(h.cancelJob))
	m.Handle("GET /pools/{pool}/members/{member}/settings", h.page(h.memberSettingsPage))
	m.Handle("POST /pools/{pool}/members/{member}/settings", h.page(h.updateMember))
	m.Handle("POST /pools/{pool}/members/{member}/secret", h.page(h.newSecret))
	m.Handle("POST /pools/{pool}/members/{member}/credential/rotate", h.page(h.rotateCredential))
	m.Handle("POST /pools/{pool}/members/{member}/credential/revoke", h.page(h.revokeCredential))
	m.Handle("POST /pools/{pool}/members/{member}/agent/update", h.page(h.updateAgent))
	m.Handle("POST /pools/{pool}/agents/update", h.page(h.startRollout))
	m.Handle("POST /pools/{pool}/agents/cancel", h.page(h.cancelRollout))
	m.Handle("POST /pools/{pool}/members/{member}/remove", h.page(h.removeMember))
	m.Handle("GET /pools/{pool}/members/{member}/stack/{tab}", h.page(h.stackPage))
	m.Handle("GET /pools/{pool}/members/{member}/accounts", h.page(h.accountsPage))
	m.Handle("POST /pools/{pool}/members/{member}/accounts/refresh", h.page(h.refreshAccounts))

	m.Handle("GET /events", h.page(h.eventsPage))
	m.Handle("GET /notifications", h.page(h.notificationsPage))
	m.Handle("POST /notifications/channels/{name}/test", h.page(h.testChannel))

	m.Handle("GET /links", h.page(h.linksPage))
	m.Handle("POST /links", h.page(h.addLink))
	m.Handle("GET /links/runs/{id}", h.page(h.distRunPage))
	m.Handle("GET /links/runs/{id}/stream", h.page(h.distRunStream))
	m.Handle("GET /links/{pool}/{child}", h.page(h.linkChildPage))
	m.Handle("POST /links/{pool}/{child}/remove", h.page(h.removeLink))

	m.Handle("GET /dns-cluster", h.page(h.clusterPage))
	m.Handle("POST /dns-cluster/switch", h.page(h.switchCluster))
	m.Handle("POST /dns-cluster/members/{host}/enable", h.page(h.enableClusterMember))
	m.Handle("POST /dns-cluster/resync", h.page(h.resyncCluster))
	m.Handle("POST /dns-cluster/members/{host}/role", h.page(h.clusterMemberRole))
	m.Handle("POST /dns-cluster/threshold", h.page(h.clusterThreshold))
	m.Handle("POST /dns-cluster/members/{host}/edit", h.page(h.clusterMemberEdit))
	m.Handle("POST /dns-cluster/members/{host}/remove", h.page(h.clusterMemberRemove))
	m.Handle("POST /dns-cluster/conflicts/{id}/resolve", h.page(h.resolveClusterConflict))
	m.Handle("GET /zones", h.page(h.zonesPage))
	m.Handle("POST /zones", h.page(h.createZone))
	m.Handle("POST /dns-providers", h.page(h.addDNSProvider))
	m.Handle("POST /dns-providers/{name}/delete", h.page(h.removeDNSProvider))
	m.Handle("GET /zones/{zone}", h.page(h.zonePage))
	m.Handle("POST /zones/{zone}/records", h.page(h.addRecord))
	m.Handle("POST /zones/{zone}/records/{id}/delete", h.page(h.deleteRecord))
	m.Handle("POST /zones/{zone}/delete", h.page(h.deleteZone))
	m.Handle("POST /zones/{zone}/dnssec/enable", h.page(h.enableDNSSEC))
	m.Handle("POST /zones/{zone}/dnssec/disable", h.page(h.disableDNSSEC))
	m.Handle("POST /zones/{zone}/dnssec/rollover", h.page(h.rolloverDNSSEC))

	m.Handle("GET /protections", h.page(h.protectionsPage))
	m.Handle("POST /protections", h.page(h.createProtection))
	m.Handle("GET /protections/{pool}/{account}", h.page(h.protectionPage))
	m.Handle("POST /protections/{pool}/{account}/settings", h.page(h.updateProtection))
	m.Handle("POST /protections/{pool}/{account}/run", h.page(h.runProtection))
	m.Handle("POST /protections/{pool}/{account}/pause", h.page(h.pauseProtection))
	m.Handle("POST /protections/{pool}/{account}/resume", h.page(h.resumeProtection))
	m.Handle("POST /protections/{pool}/{account}/cut-dns", h.page(h.cutDNS))
	m.Handle("POST /protections/{pool}/{account}/reverse", h.page(h.reverseProtection))
	m.Handle("POST /protections/{pool}/{account}/delete", h.page(h.deleteProtection))
	m.Handle("GET /protections/{pool}/{account}/runs/{id}", h.page(h.runPage))
	m.Handle("GET /protections/{pool}/{account}/runs/{id}/stream", h.page(h.runStream))

	m.Handle("/", h.serve(func(w http.ResponseWriter, r *http.Request) error { return notFound(r) }))

	// Cross-origin refusal first: a browser's cross-site POST never reaches
	// a handler, signed in or not (login CSRF included).
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(h.serve(func(w http.ResponseWriter, r *http.Request) error { return errCrossOrigin }))
	h.handler = cop.Handler(h.limitBody(m))
	// Pages and static files go out compressed to browsers that take gzip;
	// live streams never (they are flushed event by event).
	gz, err := gzhttp.NewWrapper(gzhttp.ContentTypeFilter(func(ct string) bool {
		return !strings.HasPrefix(strings.TrimSpace(ct), "text/event-stream") && gzhttp.DefaultContentTypeFilter(ct)
	}))
	if err != nil {
		panic(err) // the options above are constant
	}
	h.gzipped = gz(h.handler)
}

// limitBody caps request bodies: the dashboard's forms are small.
func (h *Handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		}
		next.ServeHTTP(w, r)
	})
}
