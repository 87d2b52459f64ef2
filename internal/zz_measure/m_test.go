package zzmeasure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

func TestMeasure(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	fp := "abababababababababababababababababababababababababababababababab"
	svc := fleet.New(st, fleet.Config{CAFingerprint: fp})
	ctx := context.Background()
	svc.Start(ctx)
	admin := fleet.NewAdminToken()
	svc.EnsureAdminToken(ctx, admin)
	ls, _ := local.Open(t.TempDir())
	prot := protection.New(protection.Config{Store: st, Fleet: svc, Objects: ls, MasterKey: [32]byte{1}})
	srv := httptest.NewTLSServer(apiserver.New(apiserver.Deps{Fleet: svc, Protections: prot}))
	defer srv.Close()
	sum := sha256.Sum256(srv.Certificate().Raw)
	fpx := hex.EncodeToString(sum[:])
	ac, _ := client.New(srv.URL, client.Options{Token: admin, CAFingerprint: fpx})
	ac.CreatePool(ctx, api.PoolCreate{Name: "p"})
	tok := map[string]string{}
	for _, m := range []string{"a", "b"} {
		ma, err := ac.AddMember(ctx, "p", api.MemberCreate{Name: m, Address: "127.0.0.1"})
		if err != nil { t.Fatal(err) }
		anon, _ := client.New(srv.URL, client.Options{CAFingerprint: fpx})
		er, err := anon.Enroll(ctx, api.EnrollRequest{Secret: ma.EnrollmentSecret, Hostname: "h", AgentVersion: "x"})
		if err != nil { t.Fatal(err) }
		tok[m] = er.Token
	}
	p, err := prot.CreateProtection(ctx, "p", api.ProtectionCreate{Account: "alice", Source: "a", Standby: "b", Paused: true})
	if err != nil { t.Fatal(err) }
	c, _ := client.New(srv.URL, client.Options{Token: tok["a"], CAFingerprint: fpx})
	prefix := fmt.Sprintf("protections/%d/chunks/", p.ID)
	data := bytes.Repeat([]byte("x"), 8<<10)
	for _, mode := range []string{"put", "get"} {
		var i atomic.Int64
		n := 3000
		t0 := time.Now()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for {
					k := i.Add(1)
					if k > int64(n) { return }
					var err error
					if mode == "put" {
						err = c.PutObject(ctx, fmt.Sprintf("%s%08d", prefix, k), data)
					} else {
						_, err = c.GetObject(ctx, fmt.Sprintf("%s%08d", prefix, k))
					}
					if err != nil { t.Error(err); return }
				}
			})
		}
		wg.Wait()
		d := time.Since(t0)
		t.Logf("%s: %d in %s: %.0f/s", mode, n, d, float64(n)/d.Seconds())
	}
}
