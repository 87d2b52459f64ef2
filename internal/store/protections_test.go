package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// A cut is kept apart from the settings, so that a writer holding an older
// copy of the row does not undo it; a reversal swaps the members in one
// step, and never under a run in progress; a run that ended stays ended.
func TestProtectionCutAndReverse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := mkPool(t, st, "web")
		src, stb := mkMember(t, st, p, "node1", ""), mkMember(t, st, p, "node2", "")
		next := t0.Add(time.Hour)
		pr := store.Protection{PoolID: p.ID, Account: "alice", SourceID: src.ID, StandbyID: stb.ID, Schedule: "1h",
			Records: []string{"A"}, TTL: 300, Databases: true, NextRunAt: &next}
		if err := st.CreateProtection(ctx, &pr, t0); err != nil {
			t.Fatal(err)
		}
		stale := pr // as the engine read it before the cut

		cutAt := t0.Add(time.Minute)
		cut := pr
		cut.CutToID, cut.CutAt, cut.CutReason = stb.ID, &cutAt, "automatically after node1 failed"
		if err := st.SetProtectionCut(ctx, &cut, cutAt); err != nil {
			t.Fatal(err)
		}
		stale.RPOAlerted = true
		if err := st.UpdateProtection(ctx, &stale, cutAt.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetProtectionByID(ctx, pr.ID)
		if err != nil || got.CutToID != stb.ID || got.CutTo != "node2" || got.CutAt == nil || !got.CutAt.Equal(cutAt) ||
			got.CutReason != "automatically after node1 failed" || got.CutNoticed || !got.RPOAlerted {
			t.Fatalf("after a cut and a stale update: got %+v (%v), want the cut kept", got, err)
		}
		for i, want := range []bool{true, false} {
			if first, err := st.NoticeCut(ctx, pr.ID, stb.ID); err != nil || first != want {
				t.Errorf("notice %d: got %v (%v), want %v", i+1, first, err, want)
			}
		}
		if first, _ := st.NoticeCut(ctx, pr.ID, src.ID); first {
			t.Error("noticed a cut to the wrong member")
		}

		// A run in progress blocks the reversal.
		r := store.Run{}
		r.Protection, r.Trigger = pr.ID, "manual"
		if err := st.CreateRun(ctx, &r, t0); err != nil {
			t.Fatal(err)
		}
		if err := st.ReverseProtection(ctx, &got, &next, t0); !errors.Is(err, apperr.Conflict) {
			t.Errorf("reverse under a queued run: got %v, want a conflict", err)
		}
		// The first reason a run fails for stays; it is not moved back.
		stillQueued := r
		if ok, err := st.FailRun(ctx, &r, "cut", t0); !ok || err != nil || r.Status != api.RunFailed {
			t.Fatalf("fail run: got %v %v %+v", ok, err, r)
		}
		if ok, err := st.FailRun(ctx, &stillQueued, "later", t0); ok || err != nil {
			t.Errorf("second fail: got %v %v, want no change", ok, err)
		}
		stillQueued.Status = api.RunSnapshot
		if err := st.UpdateRun(ctx, &stillQueued); !errors.Is(err, store.ErrRunEnded) {
			t.Errorf("moving an ended run back: got %v, want ErrRunEnded", err)
		}
		if err := st.FinishGoodRun(ctx, &stillQueued, t0); !errors.Is(err, store.ErrRunEnded) {
			t.Errorf("finishing an ended run as good: got %v, want ErrRunEnded", err)
		}
		if gr, _ := st.GetRun(ctx, r.ID); gr.Status != api.RunFailed || gr.Error != "cut" {
			t.Errorf("run after the stale writes: got %+v, want failed by the cut", gr)
		}

		stale = got
		revAt := t0.Add(time.Hour)
		if err := st.ReverseProtection(ctx, &got, &next, revAt); err != nil {
			t.Fatal(err)
		}
		if got.SourceID != stb.ID || got.StandbyID != src.ID || got.Source != "node2" || got.Standby != "node1" || got.CutToID != 0 ||
			got.CutAt != nil || got.CutReason != "" || got.GoodAt != nil || got.GoodFiles != "" || !got.FullNext || got.ReversedAt == nil ||
			!got.ReversedAt.Equal(revAt) {
			t.Errorf("reversed: got %+v, want node2 → node1, no cut, no good copy, a full run next", got)
		}
		if err := st.ReverseProtection(ctx, &stale, &next, revAt); !errors.Is(err, apperr.Conflict) {
			t.Errorf("reverse from a stale copy: got %v, want a conflict", err)
		}
		back := got
		back.CutToID = 0
		if err := st.SetProtectionCut(ctx, &back, revAt); err != nil {
			t.Fatal(err)
		}
	})
}
