package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// fakeDriver is a channel kind ("webhook") whose sends are counted per
// message and fail as told.
type fakeDriver struct {
	mu      sync.Mutex
	sent    map[int64]int // delivery id → accepted sends
	fails   []error       // errors for the next sends, in order
	secrets []string
}

func (f *fakeDriver) Kind() string { return api.ChannelWebhook }
func (f *fakeDriver) Check(raw json.RawMessage, secret bool) (json.RawMessage, error) {
	return raw, nil
}
func (f *fakeDriver) Open(raw json.RawMessage, secret string) (notify.Sender, error) {
	f.mu.Lock()
	f.secrets = append(f.secrets, secret)
	f.mu.Unlock()
	return f, nil
}
func (f *fakeDriver) Send(ctx context.Context, m notify.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fails) > 0 {
		err := f.fails[0]
		f.fails = f.fails[1:]
		return err
	}
	if f.sent == nil {
		f.sent = map[int64]int{}
	}
	f.sent[m.ID]++
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	st     *store.Store
	drv    *fakeDriver
	clk    *clock
	events []api.Event
	key    [32]byte
}

func (f *fixture) service(t *testing.T, holder string) *notify.Service {
	t.Helper()
	s, err := notify.New(notify.Config{Store: f.st, Drivers: []notify.Driver{f.drv}, MasterKey: f.key, Holder: holder, Now: f.clk.now,
		Events: func(_ context.Context, e api.Event) { f.events = append(f.events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setup(t *testing.T, st *store.Store) (*fixture, *notify.Service, api.NotifyChannel) {
	f := &fixture{st: st, drv: &fakeDriver{}, clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, key: [32]byte{1, 2, 3}}
	s := f.service(t, "replica-a")
	c, err := s.AddChannel(context.Background(), api.NotifyChannelCreate{Name: "hook", Kind: api.ChannelWebhook, Webhook: &api.WebhookChannel{URL: "https://x.test/"}, Secret: "topsecret"})
	if err != nil {
		t.Fatal(err)
	}
	return f, s, c
}

func enqueue(t *testing.T, s *notify.Service, st *store.Store, now time.Time, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	ch, err := st.GetNotifyChannel(ctx, "hook")
	if err != nil {
		t.Fatal(err)
	}
	var ds []*store.NotifyDelivery
	for i := 0; i < n; i++ {
		d, err := s.NewDelivery(ch.ID, notify.Message{Kind: notify.KindAlert, Pool: "web", Subject: "down"})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	if err := st.EnqueueDeliveries(ctx, ds, now); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func pass(t *testing.T, s *notify.Service) int {
	t.Helper()
	n, err := s.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSecretSealed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f, s, c := setup(t, st)
		if !c.HasSecret {
			t.Fatal("has_secret false")
		}
		raw, _ := json.Marshal(c)
		row, _ := st.GetNotifyChannel(context.Background(), "hook")
		if strings.Contains(string(raw), "topsecret") || strings.Contains(row.SecretSealed, "topsecret") || row.SecretSealed == "" {
			t.Fatalf("the secret shows: api %s, stored %q", raw, row.SecretSealed)
		}
		enqueue(t, s, st, f.clk.now(), 1)
		pass(t, s)
		if len(f.drv.secrets) != 1 || f.drv.secrets[0] != "topsecret" {
			t.Fatalf("the driver got %q", f.drv.secrets)
		}
		// Another master key cannot open it: the delivery fails, for good, with the reason.
		f.key = [32]byte{9}
		other := f.service(t, "replica-b")
		ids := enqueue(t, other, st, f.clk.now(), 1)
		pass(t, other)
		d, err := other.Delivery(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != api.DeliveryFailed || !strings.Contains(d.LastError, "master key") || len(f.events) != 1 {
			t.Fatalf("got %s %q (%d events), want failed naming the master key", d.Status, d.LastError, len(f.events))
		}
	})
}

func TestRetriesWithBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f, s, _ := setup(t, st)
		f.drv.fails = []error{errors.New("connection refused"), errors.New("503")}
		ids := enqueue(t, s, st, f.clk.now(), 1)
		if n := pass(t, s); n != 1 {
			t.Fatalf("first pass attempted %d", n)
		}
		f.clk.add(4 * time.Second)
		if n := pass(t, s); n != 0 {
			t.Fatalf("attempted %d before the back-off ended", n)
		}
		f.clk.add(time.Second) // 5 s after the first
		pass(t, s)
		f.clk.add(9 * time.Second)
		if n := pass(t, s); n != 0 {
			t.Fatalf("attempted %d before the doubled back-off ended", n)
		}
		f.clk.add(time.Second) // 10 s after the second
		pass(t, s)
		d, err := s.Delivery(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, a := range d.AttemptLog {
			outcomes = append(outcomes, a.Outcome)
		}
		if d.Status != api.DeliveryDelivered || strings.Join(outcomes, ",") != "retry,retry,delivered" || d.AttemptLog[0].Error != "connection refused" {
			t.Fatalf("got %s %v %+v", d.Status, outcomes, d.AttemptLog)
		}
		if f.drv.sent[ids[0]] != 1 {
			t.Fatalf("sent %d times", f.drv.sent[ids[0]])
		}
	})
}

func TestFailedForGood(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f, s, _ := setup(t, st)
		f.drv.fails = []error{notify.Permanent(errors.New("404 Not Found"))}
		ids := enqueue(t, s, st, f.clk.now(), 1)
		pass(t, s)
		for i := 0; i < notify.DefaultMaxAttempts; i++ {
			f.drv.fails = append(f.drv.fails, errors.New("timeout"))
		}
		ids = append(ids, enqueue(t, s, st, f.clk.now(), 1)...)
		for i := 0; i < 2*notify.DefaultMaxAttempts; i++ { // bounded
			pass(t, s)
			f.clk.add(notify.DefaultMaxBackoff)
		}
		for i, id := range ids {
			d, _ := s.Delivery(context.Background(), id)
			want := []int{1, notify.DefaultMaxAttempts}[i]
			if d.Status != api.DeliveryFailed || d.Attempts != want || len(d.AttemptLog) != want || d.AttemptLog[want-1].Outcome != notify.OutcomeFailed {
				t.Errorf("delivery %d: %s after %d attempts (%d logged), want failed after %d", id, d.Status, d.Attempts, len(d.AttemptLog), want)
			}
		}
		if len(f.events) != 2 || f.events[0].Kind != notify.KindDeliveryFailed {
			t.Fatalf("events %+v, want 2 %s", f.events, notify.KindDeliveryFailed)
		}
	})
}

// TestRestart simulates a crash: replica A delivered one message, claimed
// two more and died before sending them, and left two unclaimed. Replica B
// sends the unclaimed ones at once and the claimed ones when A's lease
// runs out: every message exactly once.
func TestRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f, a, _ := setup(t, st)
		ids := enqueue(t, a, st, f.clk.now(), 5)
		claimed, err := st.ClaimDeliveries(ctx, "replica-a", f.clk.now(), notify.DefaultLease, 1)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %d", err, len(claimed))
		}
		if err := st.RecordAttempt(ctx, claimed[0].ID, "replica-a", store.NotifyAttempt{At: f.clk.now(), Outcome: notify.OutcomeDelivered}, store.DeliveryDelivered, f.clk.now()); err != nil {
			t.Fatal(err)
		}
		f.drv.sent = map[int64]int{claimed[0].ID: 1} // A sent it
		dead, err := st.ClaimDeliveries(ctx, "replica-a", f.clk.now(), notify.DefaultLease, 2)
		if err != nil || len(dead) != 2 {
			t.Fatalf("claim: %v %d", err, len(dead))
		}
		// A dies here. B starts.
		b := f.service(t, "replica-b")
		f.clk.add(time.Second)
		if n := pass(t, b); n != 2 {
			t.Fatalf("B attempted %d, want the 2 unclaimed", n)
		}
		if n := pass(t, b); n != 0 {
			t.Fatalf("B attempted %d while A's lease holds", n)
		}
		f.clk.add(notify.DefaultLease)
		if n := pass(t, b); n != 2 {
			t.Fatalf("B attempted %d after A's lease ended, want 2", n)
		}
		for _, id := range ids {
			if f.drv.sent[id] != 1 {
				t.Errorf("delivery %d sent %d times, want 1", id, f.drv.sent[id])
			}
		}
		// A zombie A recording late is refused: B's outcome stands.
		err = st.RecordAttempt(ctx, dead[0].ID, "replica-a", store.NotifyAttempt{At: f.clk.now(), Outcome: notify.OutcomeRetry}, store.DeliveryPending, f.clk.now())
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("late record: got %v, want ErrLeaseLost", err)
		}
		ds, _ := b.Deliveries(ctx, store.DeliveryFilter{})
		for _, d := range ds {
			if d.Status != api.DeliveryDelivered {
				t.Errorf("delivery %d is %s", d.ID, d.Status)
			}
		}
	})
}

func TestTestMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f, s, _ := setup(t, st)
		d, err := s.Test(context.Background(), "hook", "https://poolctl.test/")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != api.DeliveryDelivered || d.Kind != notify.KindTest || len(d.AttemptLog) != 1 || f.drv.sent[d.ID] != 1 {
			t.Fatalf("got %+v", d)
		}
		f.drv.fails = []error{errors.New("connection refused")}
		d, err = s.Test(context.Background(), "hook", "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != api.DeliveryFailed || d.LastError != "connection refused" {
			t.Fatalf("got %s %q, want failed with the reason", d.Status, d.LastError)
		}
		if n := pass(t, s); n != 0 {
			t.Fatalf("a test message was attempted again (%d)", n)
		}
		if _, err := s.Test(context.Background(), "nope", ""); err == nil {
			t.Fatal("unknown channel accepted")
		}
	})
}
