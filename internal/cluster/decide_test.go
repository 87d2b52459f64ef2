package cluster

import (
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// TestDecide walks the three-way comparison for every role: which side
// changed a zone since both last agreed, and what each role may do.
func TestDecide(t *testing.T) {
	const (
		sync = api.ClusterRoleSync
		wo   = api.ClusterRoleWriteOnly
		sa   = api.ClusterRoleStandalone
	)
	at := func(n uint32) side { return side{n, true} }
	none := side{}
	base := func(n uint32) *store.ClusterAgreement { return &store.ClusterAgreement{Serial: n} }
	for _, c := range []struct {
		name        string
		role        string
		here, there side
		agreed      *store.ClusterAgreement
		full        bool
		want        action
		kind        string
	}{
		{"same serial, agreed", sync, at(5), at(5), base(5), false, actAgree, ""},
		{"same serial, first contact", wo, at(5), at(5), nil, false, actAgree, ""},
		{"same serial reached apart", sync, at(6), at(6), base(5), false, actVerify, ""},
		{"resync of a write-only member", wo, at(5), at(5), base(5), true, actPush, ""},
		{"changed here: sync pushes", sync, at(6), at(5), base(5), false, actPush, ""},
		{"changed here: write-only pushes", wo, at(6), at(5), base(5), false, actPush, ""},
		{"changed here: standalone never writes", sa, at(6), at(5), base(5), false, actNone, ""},
		{"changed there: sync fetches", sync, at(5), at(6), base(5), false, actFetch, ""},
		{"changed there: standalone fetches", sa, at(5), at(6), base(5), false, actFetch, ""},
		{"changed there: write-only is never read", wo, at(5), at(6), base(5), false, actConflict, api.ConflictChangedThere},
		{"changed on both sides", sync, at(6), at(7), base(5), false, actConflict, api.ConflictBothChanged},
		{"changed on both sides, standalone", sa, at(6), at(7), base(5), false, actConflict, api.ConflictBothChanged},
		{"other serials, no history: sync", sync, at(6), at(7), nil, false, actConflict, api.ConflictFirstContact},
		{"other serials, no history: write-only pushes, the member arbitrates", wo, at(6), at(7), nil, false, actPush, ""},
		{"new here: sync pushes", sync, at(5), none, nil, false, actPush, ""},
		{"new here: standalone keeps it", sa, at(5), none, nil, false, actNone, ""},
		{"lost there: write-only writes it again", wo, at(5), none, base(5), false, actPush, ""},
		{"deleted there: sync deletes here", sync, at(5), none, base(5), false, actDeleteHere, ""},
		{"deleted there: standalone deletes here", sa, at(5), none, base(5), false, actDeleteHere, ""},
		{"deleted there, changed here", sync, at(6), none, base(5), false, actConflict, api.ConflictDeletedThere},
		{"new there: sync fetches", sync, none, at(5), nil, false, actFetch, ""},
		{"new there: write-only leaves it", wo, none, at(5), nil, false, actNone, ""},
		{"there: standalone always fetches", sa, none, at(5), base(5), false, actFetch, ""},
		{"deleted here: sync deletes there", sync, none, at(5), base(5), false, actDeleteThat, ""},
		{"deleted here: write-only deletes there", wo, none, at(5), base(5), false, actDeleteThat, ""},
		{"deleted here, changed there: sync", sync, none, at(6), base(5), false, actConflict, api.ConflictDeletedHere},
		{"deleted here, rewritten there by another: write-only", wo, none, at(6), base(5), false, actForget, ""},
		{"gone on both sides", sync, none, none, base(5), false, actForget, ""},
		{"yielded to another writer", wo, at(9), at(5), &store.ClusterAgreement{Serial: 5, Yielded: true}, false, actNone, ""},
	} {
		var a store.ClusterAgreement
		if c.agreed != nil {
			a = *c.agreed
		}
		got, kind := decide(c.role, c.here, c.there, a, c.agreed != nil, c.full)
		if got != c.want || kind != c.kind {
			t.Errorf("%s: decide = %d %q, want %d %q", c.name, got, kind, c.want, c.kind)
		}
	}
}

func TestSerialOf(t *testing.T) {
	text := "shop.test.\t3600\tIN\tSOA\tns1.shop.test. hostmaster.shop.test. 2026120407 3600 600 1209600 300\nwww.shop.test.\t60\tIN\tA\t192.0.2.1\n"
	if got := serialOf(text); got != 2026120407 {
		t.Fatalf("serialOf = %d", got)
	}
	if got := serialOf(""); got != 0 {
		t.Fatalf("serialOf of nothing = %d", got)
	}
}
