package dnssec

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestSignVerifies(t *testing.T) {
	keys, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner("example.test.", keys)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	inc, exp, refresh := DefaultValidity.Window(now)
	if !inc.Before(now) || !refresh.Before(exp) || !refresh.After(now) {
		t.Fatalf("window: %s %s %s", inc, exp, refresh)
	}
	sets := s.ApexSets(3600)
	if len(sets) != 4 || len(sets[0]) != 2 || sets[1][0].Header().Rrtype != mdns.TypeCDS {
		t.Fatalf("apex sets: %v", sets)
	}
	a, _ := mdns.NewRR("www.example.test. 300 IN A 192.0.2.1")
	for _, set := range [][]mdns.RR{sets[0], {a}} {
		sigs, err := s.Sign(set, inc, exp)
		if err != nil || len(sigs) != 1 {
			t.Fatalf("sign %v: %v %v", set, sigs, err)
		}
		sig := sigs[0].(*mdns.RRSIG)
		want := uint16(256)
		if set[0].Header().Rrtype == mdns.TypeDNSKEY {
			want = 257
		}
		verified := false
		for _, k := range sets[0] {
			k := k.(*mdns.DNSKEY)
			if k.KeyTag() == sig.KeyTag && k.Flags == want && sig.Verify(k, set) == nil && sig.ValidityPeriod(now) {
				verified = true
			}
		}
		if !verified {
			t.Errorf("signature over %s does not verify with the key of flags %d", mdns.TypeToString[set[0].Header().Rrtype], want)
		}
	}
	info, err := Describe("example.test", 3600, keys[0])
	if err != nil || info.DS == "" || info.Flags != 257 {
		t.Errorf("describe KSK: %+v %v", info, err)
	}
}

func TestChain(t *testing.T) {
	c := BuildChain("example.test.", []NameTypes{
		{Name: "example.test.", Types: []uint16{mdns.TypeSOA, mdns.TypeNS, mdns.TypeRRSIG}},
		{Name: "www.example.test.", Types: []uint16{mdns.TypeA, mdns.TypeRRSIG}},
		{Name: "ent.example.test."},
	}, 300)
	if n := len(c.Records()); n != 3 {
		t.Fatalf("chain: %d records", n)
	}
	for _, name := range []string{"example.test.", "www.example.test.", "ent.example.test."} {
		i := c.Match(name)
		if i < 0 || !c.Records()[i].Match(name) || c.Cover(name) != -1 {
			t.Errorf("%s: match %d, cover %d", name, i, c.Cover(name))
		}
	}
	for _, name := range []string{"nx.example.test.", "*.example.test.", "a.b.example.test."} {
		i := c.Cover(name)
		if i < 0 || !c.Records()[i].Cover(name) || c.Match(name) != -1 {
			t.Errorf("%s: cover %d, match %d", name, i, c.Match(name))
		}
	}
	for i, r := range c.Records() {
		next := c.Records()[(i+1)%3]
		if lower(r.NextDomain) != next.Hdr.Name[:32] {
			t.Errorf("record %d: next %s, the next owner is %s", i, r.NextDomain, next.Hdr.Name)
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func state(t *testing.T, keys []Key) map[uint16]Key {
	t.Helper()
	out := map[uint16]Key{}
	for _, k := range keys {
		tag, err := Tag(k)
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = k
	}
	return out
}

func TestZSKRollover(t *testing.T) {
	keys, _ := NewKeys()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tm := Timing{DNSKEYTTL: time.Hour, MaxTTL: 2 * time.Hour, ParentDSTTL: 24 * time.Hour, Propagation: 5 * time.Minute}
	keys, r, err := StartRollover(RoleZSK, keys, now, tm)
	if err != nil {
		t.Fatal(err)
	}
	st := state(t, keys)
	if len(keys) != 3 || !st[r.NewTag].Publish || st[r.NewTag].Sign || !st[r.OldTag].Sign || !r.NextAt.Equal(now.Add(65*time.Minute)) {
		t.Fatalf("after start: %+v %+v", r, st)
	}
	if _, _, err := StartRollover(RoleZSK, keys, now, tm); err != nil {
		t.Logf("a second start is refused by the caller (a rollover is in progress); here: %v", err)
	}
	if k2, r2, changed, _ := Advance(r, keys, now.Add(time.Hour), tm); changed || r2.Step != StepPublished || len(k2) != 3 {
		t.Fatalf("advanced before due: %+v", r2)
	}
	keys, r, changed, err := Advance(r, keys, r.NextAt, tm)
	st = state(t, keys)
	if err != nil || !changed || r.Step != StepSigning || !st[r.NewTag].Sign || st[r.OldTag].Sign || !st[r.OldTag].Publish {
		t.Fatalf("signing step: %+v %+v %v", r, st, err)
	}
	if err := CheckKeys(keys); err != nil {
		t.Fatal(err)
	}
	due := r.NextAt
	if !due.Equal(now.Add(65*time.Minute + 125*time.Minute)) {
		t.Errorf("old ZSK withdrawn at %s", due)
	}
	keys, r, changed, err = Advance(r, keys, due, tm)
	st = state(t, keys)
	if err != nil || !changed || r.Step != StepDone || len(keys) != 2 {
		t.Fatalf("done: %+v %d keys %v", r, len(keys), err)
	}
	if _, ok := st[r.OldTag]; ok {
		t.Errorf("old ZSK still there")
	}
}

func TestKSKRollover(t *testing.T) {
	keys, _ := NewKeys()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tm := Timing{Fixed: time.Second}
	keys, r, err := StartRollover(RoleKSK, keys, now, tm)
	if err != nil {
		t.Fatal(err)
	}
	st := state(t, keys)
	if !st[r.NewTag].Sign || !st[r.OldTag].Sign || st[r.NewTag].DS || !st[r.OldTag].DS {
		t.Fatalf("double signature: %+v", st)
	}
	s, err := NewSigner("example.test.", keys)
	if err != nil {
		t.Fatal(err)
	}
	inc, exp, _ := DefaultValidity.Window(now)
	if sigs, _ := s.Sign(s.ApexSets(3600)[0], inc, exp); len(sigs) != 2 {
		t.Errorf("DNSKEY set: %d signatures, want 2", len(sigs))
	}
	keys, r, _, _ = Advance(r, keys, now.Add(time.Second), tm)
	st = state(t, keys)
	if r.Step != StepDSSwap || !st[r.NewTag].DS || st[r.OldTag].DS {
		t.Fatalf("ds-swap: %+v %+v", r, st)
	}
	keys, r, _, _ = Advance(r, keys, now.Add(2*time.Second), tm)
	if r.Step != StepDone || len(keys) != 2 {
		t.Fatalf("done: %+v %d keys", r, len(keys))
	}
	if err := CheckKeys(keys); err != nil {
		t.Fatal(err)
	}
}
