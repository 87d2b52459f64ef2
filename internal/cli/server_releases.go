package cli

import (
	"context"
	"log/slog"

	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/tlsutil"
)

// versionVar is the variable `go build -ldflags "-X ..."` sets to the
// release version; the catalogue reads it from extra binaries.
const versionVar = "github.com/poolctl/poolctl/internal/cli.Version"

// loadReleases builds the catalogue of agent binaries the server offers:
// its own executable and those of --agent-binaries. With the self-signed
// certificate the catalogue carries the TLS pin of the server's key, which
// the install command and script give curl.
// Every binary is signed (see releaseSigning); the second result is the
// release public key agents pin.
func loadReleases(ctx context.Context, o ServerOptions, st *store.Store, tlsMat *tlsutil.Material, log *slog.Logger) (*release.Catalog, string, error) {
	pin := ""
	if tlsMat != nil && tlsMat.Fingerprint != "" && len(tlsMat.Config.Certificates) > 0 {
		if leaf := tlsMat.Config.Certificates[0].Leaf; leaf != nil {
			pin = release.Pin(leaf)
		}
	}
	rlog := log.With("component", "releases")
	signer, key, err := releaseSigning(ctx, o, st, rlog)
	if err != nil {
		return nil, "", err
	}
	cat, err := release.Load(release.Options{Version: Version, Dir: o.AgentBinaries, VersionVar: versionVar, TLSPin: pin,
		Signer: signer, Warn: func(msg string) { rlog.Warn(msg) }})
	if err != nil {
		return nil, "", err
	}
	for _, b := range cat.List() {
		rlog.Debug("agent binary offered", "os", b.OS, "arch", b.Arch, "version", b.Version, "size", b.Size, "sha256", b.SHA256, "path", b.Path)
	}
	return cat, key, nil
}
