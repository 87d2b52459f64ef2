package failover

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestMoveEventSaysWhereRecordWent: a move's event carries data.dns, the
// provider the record was published at and the outcome; a failed publish
// is in it too, and its publish_failed event follows the move's.
func TestMoveEventSaysWhereRecordWent(t *testing.T) {
	type dnsData struct {
		DNS struct {
			Provider  string `json:"provider"`
			Published bool   `json:"published"`
			Error     string `json:"error"`
		} `json:"dns"`
	}
	read := func(t *testing.T, w *world, kind string) dnsData {
		t.Helper()
		var d dnsData
		if err := json.Unmarshal(w.event(t, "web", kind).Data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Run("published", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld()
			p := webPool(w, "", func(p *PoolState) { p.Provider = "pdns1" })
			e := w.engine()
			activate(t, w, e, p)
			if d := read(t, w, KindActivated); d.DNS.Provider != "pdns1" || !d.DNS.Published {
				t.Errorf("activated event's dns: got %+v, want pdns1 published", d.DNS)
			}
			w.kill(p.ID, "node1")
			runFor(t, e, time.Minute, nil)
			if d := read(t, w, KindCut); d.DNS.Provider != "pdns1" || !d.DNS.Published || d.DNS.Error != "" {
				t.Errorf("cut event's dns: got %+v, want pdns1 published", d.DNS)
			}
		})
	})
	t.Run("failed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld()
			p := webPool(w, "")
			e := w.engine()
			activate(t, w, e, p)
			w.set(func(w *world) { w.publishErr = errors.New("zone www.example.test. not found") })
			w.kill(p.ID, "node1")
			runFor(t, e, time.Minute, nil)
			d := read(t, w, KindCut)
			if d.DNS.Provider != "builtin" || d.DNS.Published || !strings.Contains(d.DNS.Error, "not found") {
				t.Errorf("cut event's dns: got %+v, want builtin with the error", d.DNS)
			}
			ks := w.kinds("web")
			if cut, failed := slices.Index(ks, KindCut), slices.Index(ks, KindPublishError); cut < 0 || failed < cut {
				t.Errorf("events: got %v, want %s before %s", ks, KindCut, KindPublishError)
			}
		})
	})
}
