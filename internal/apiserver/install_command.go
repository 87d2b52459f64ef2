package apiserver

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/release"
)

// withInstallCommand adds the one-line agent install to a new enrolment
// secret, for the server URL the client reached this server at.
func (s *Server) withInstallCommand(r *http.Request, added api.MemberAdded, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if s.d.Releases != nil {
		added.InstallCommand = release.InstallCommand(requestURL(r), s.d.Releases.TLSPin(), added.EnrollmentSecret)
	}
	return added, nil
}

// requestURL is the address the client reached this server at: the
// request's Host and whether it came over TLS, never X-Forwarded-* headers
// (as the dashboard's serverURL).
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
