package zones_test

import (
	"errors"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

// TestReplicaDeltas: a member at the serial a change log starts from
// applies the changes (once: again is no change); a member at another
// serial answers a conflict that asks for the whole zone; a broken chain is
// refused; the log is read from the journal and reaches only as far back
// as it has no gap.
func TestReplicaDeltas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		src := zones.New(zones.Config{Store: st})
		dstStore := storetest.Open(t, store.SQLite)
		dst := zones.New(zones.Config{Store: dstStore, Sink: &sink{}})
		if _, err := src.Create(ctx, api.ZoneCreate{Name: "delta.test"}); err != nil {
			t.Fatal(err)
		}
		whole, err := src.ReplicaZone(ctx, "delta.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.ApplyReplica(ctx, "delta.test", whole, zones.ReplicaSource{}); err != nil {
			t.Fatal(err)
		}
		base := whole.Serial
		if _, err := src.ReplicaDeltas(ctx, "delta.test", base); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("changes from the current serial: %v, want NotFound", err)
		}
		for _, name := range []string{"a", "b", "c"} {
			if _, err := src.AddRecord(ctx, "delta.test", api.RecordCreate{Name: name, Type: "A", TTL: 60, Value: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := src.ReplicaDeltas(ctx, "delta.test", base)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Deltas) != 3 || d.Deltas[0].From != base || d.Text != "" {
			t.Fatalf("changes: %+v", d)
		}
		if _, err := src.ReplicaDeltas(ctx, "delta.test", 12345); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("changes from a serial the log never had: %v, want NotFound", err)
		}
		res, err := dst.ApplyReplica(ctx, "delta.test", d, zones.ReplicaSource{})
		if err != nil || !res.Changed || res.Serial != d.Serial {
			t.Fatalf("apply the changes: %+v %v", res, err)
		}
		again, err := dst.ApplyReplica(ctx, "delta.test", d, zones.ReplicaSource{})
		if err != nil || again.Changed {
			t.Fatalf("the same changes again: %+v %v", again, err)
		}
		recs, err := dst.Records(ctx, "delta.test")
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, r := range recs {
			names[r.Name] = true
		}
		if !names["a"] || !names["c"] {
			t.Fatalf("records after the changes: %+v", recs)
		}
		mine, _ := dst.ReplicaZone(ctx, "delta.test")
		theirs, _ := src.ReplicaZone(ctx, "delta.test")
		if mine.Text != theirs.Text {
			t.Fatalf("the member's zone differs from the sender's:\n%s\n---\n%s", mine.Text, theirs.Text)
		}

		// A member at another serial: a conflict, nothing changed.
		if _, err := src.AddRecord(ctx, "delta.test", api.RecordCreate{Name: "d", Type: "A", TTL: 60, Value: "192.0.2.4"}); err != nil {
			t.Fatal(err)
		}
		stale, err := src.ReplicaDeltas(ctx, "delta.test", base) // from the old serial
		if err != nil {
			t.Fatal(err)
		}
		stale.Deltas = stale.Deltas[:1]
		stale.Serial = stale.Deltas[0].To
		if _, err := dst.ApplyReplica(ctx, "delta.test", stale, zones.ReplicaSource{}); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("changes from another serial: %v, want a conflict", err)
		}
		broken, err := src.ReplicaDeltas(ctx, "delta.test", base)
		if err != nil {
			t.Fatal(err)
		}
		broken.Deltas = append(broken.Deltas[:1], broken.Deltas[2:]...)
		if _, err := dst.ApplyReplica(ctx, "delta.test", broken, zones.ReplicaSource{}); !errors.Is(err, apperr.Invalid) {
			t.Fatalf("a chain with a gap: %v, want invalid", err)
		}
		if _, err := src.Create(ctx, api.ZoneCreate{Name: "other.test"}); err != nil {
			t.Fatal(err)
		}
		first, _ := src.ReplicaZone(ctx, "other.test")
		if _, err := src.AddRecord(ctx, "other.test", api.RecordCreate{Name: "x", Type: "A", TTL: 60, Value: "192.0.2.9"}); err != nil {
			t.Fatal(err)
		}
		od, err := src.ReplicaDeltas(ctx, "other.test", first.Serial)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.ApplyReplica(ctx, "other.test", od, zones.ReplicaSource{}); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("changes to a zone the member lacks: %v, want a conflict (send it whole)", err)
		}
	})
}
