// Package notify delivers alerts: channels of several kinds (email/,
// webhook/) behind one interface, and a durable queue in the store that
// workers drain with retries and exponential back-off. Every attempt is
// recorded with its outcome; a delivery ends delivered or failed, never
// dropped. Workers claim rows with a lease, so a restart with deliveries
// pending loses none, and a row is sent again only when its worker died
// between sending and recording (the receiver can tell a repeat by the
// message's ID).
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Sender delivers messages to one configured channel. Send returns nil
// once the channel accepted the message; an error wrapped with Permanent
// means retrying cannot help (a refused address, a 4xx answer).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Driver is a kind of channel.
type Driver interface {
	// Kind names it (api.ChannelEmail, api.ChannelWebhook).
	Kind() string
	// Check validates a channel's configuration (api.EmailChannel or
	// api.WebhookChannel as JSON) and returns it normalised; errors are
	// apperr.Invalid. secret is whether a secret comes with it.
	Check(config json.RawMessage, secret bool) (json.RawMessage, error)
	// Open returns a sender for a checked configuration and its secret.
	Open(config json.RawMessage, secret string) (Sender, error)
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Defaults.
const (
	DefaultMaxAttempts = 8
	DefaultBackoff     = 5 * time.Second
	DefaultMaxBackoff  = 10 * time.Minute
	DefaultLease       = 2 * time.Minute
	DefaultSendTimeout = 30 * time.Second
)

// Config configures the service.
type Config struct {
	Store     *store.Store
	Drivers   []Driver
	MasterKey [32]byte // seals channel secrets
	// Holder names this server replica in the leases it takes.
	Holder string
	Logger *slog.Logger
	Now    func() time.Time

	MaxAttempts int           // per delivery; DefaultMaxAttempts when 0
	Backoff     time.Duration // the wait after the first failed attempt, doubled after each; DefaultBackoff
	MaxBackoff  time.Duration // the longest wait between attempts; DefaultMaxBackoff
	Lease       time.Duration // how long a claimed delivery is this worker's; DefaultLease
	SendTimeout time.Duration // one attempt's limit; DefaultSendTimeout
	Workers     int           // deliveries sent at once; 4 when 0
	// Poll is how often the queue is read when nothing wakes the workers
	// (deliveries queued by another replica); 2 s when 0.
	Poll time.Duration

	// Events records what happened (a delivery that failed for good).
	Events func(ctx context.Context, e api.Event)
	// Observe is told each attempt's channel kind and outcome (metrics).
	Observe func(kind, outcome string)
}

// Service owns the channels and delivers the queue.
type Service struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	drivers map[string]Driver
	seal    sealer
	wake    chan struct{}
}

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.Lease < cfg.SendTimeout+10*time.Second {
		cfg.Lease = cfg.SendTimeout + 10*time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Holder == "" {
		cfg.Holder = "poolctl"
	}
	sl, err := newSealer(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "notify"), drivers: map[string]Driver{}, seal: sl, wake: make(chan struct{}, 1)}
	for _, d := range cfg.Drivers {
		s.drivers[d.Kind()] = d
	}
	return s, nil
}

// MaxAttempts is the number of attempts a delivery gets.
func (s *Service) MaxAttempts() int { return s.cfg.MaxAttempts }

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)

// AddChannel checks and stores a channel, its secret sealed.
func (s *Service) AddChannel(ctx context.Context, in api.NotifyChannelCreate) (api.NotifyChannel, error) {
	if !nameRE.MatchString(in.Name) {
		return api.NotifyChannel{}, apperr.New(apperr.Invalid, "channel name %q: want 1-64 lower-case letters, digits, '.', '_' or '-'", in.Name)
	}
	d, ok := s.drivers[in.Kind]
	if !ok {
		return api.NotifyChannel{}, apperr.New(apperr.Invalid, "channel kind %q: want one of %v", in.Kind, s.kinds())
	}
	var raw any
	switch in.Kind {
	case api.ChannelEmail:
		if in.Email == nil || in.Webhook != nil {
			return api.NotifyChannel{}, apperr.New(apperr.Invalid, "an email channel needs \"email\" (and no \"webhook\")")
		}
		raw = in.Email
	case api.ChannelWebhook:
		if in.Webhook == nil || in.Email != nil {
			return api.NotifyChannel{}, apperr.New(apperr.Invalid, "a webhook channel needs \"webhook\" (and no \"email\")")
		}
		raw = in.Webhook
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return api.NotifyChannel{}, err
	}
	cfg, err := d.Check(b, in.Secret != "")
	if err != nil {
		return api.NotifyChannel{}, err
	}
	sealed, err := s.seal.seal(in.Name, in.Secret)
	if err != nil {
		return api.NotifyChannel{}, fmt.Errorf("seal the channel's secret: %w", err)
	}
	c := store.NotifyChannel{Name: in.Name, Kind: in.Kind, Config: cfg, SecretSealed: sealed}
	if err := s.st.CreateNotifyChannel(ctx, &c, s.cfg.Now()); err != nil {
		return api.NotifyChannel{}, err
	}
	return toAPIChannel(c), nil
}

func (s *Service) kinds() []string {
	var out []string
	for k := range s.drivers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toAPIChannel(c store.NotifyChannel) api.NotifyChannel {
	out := api.NotifyChannel{Name: c.Name, Kind: c.Kind, HasSecret: c.SecretSealed != "", CreatedAt: c.CreatedAt}
	switch c.Kind {
	case api.ChannelEmail:
		var e api.EmailChannel
		if json.Unmarshal(c.Config, &e) == nil {
			out.Email = &e
		}
	case api.ChannelWebhook:
		var w api.WebhookChannel
		if json.Unmarshal(c.Config, &w) == nil {
			out.Webhook = &w
		}
	}
	return out
}

// Channels lists the channels (secrets never included).
func (s *Service) Channels(ctx context.Context) ([]api.NotifyChannel, error) {
	cs, err := s.st.ListNotifyChannels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.NotifyChannel, 0, len(cs))
	for _, c := range cs {
		out = append(out, toAPIChannel(c))
	}
	return out, nil
}

// Channel shows one channel.
func (s *Service) Channel(ctx context.Context, name string) (api.NotifyChannel, error) {
	c, err := s.st.GetNotifyChannel(ctx, name)
	if err != nil {
		return api.NotifyChannel{}, err
	}
	return toAPIChannel(c), nil
}

// RemoveChannel deletes a channel with its deliveries and routes.
func (s *Service) RemoveChannel(ctx context.Context, name string) error {
	return s.st.DeleteNotifyChannel(ctx, name)
}

// NewDelivery makes the queue row that sends m to channelID.
func (s *Service) NewDelivery(channelID int64, m Message) (*store.NotifyDelivery, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &store.NotifyDelivery{ChannelID: channelID, Kind: m.Kind, Pool: m.Pool, Subject: m.Subject, Message: b, MaxAttempts: s.cfg.MaxAttempts}, nil
}

// Wake tells the workers that deliveries were queued.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Test sends a test message to a channel now and reports the outcome (one
// attempt, recorded in the delivery history like any other).
func (s *Service) Test(ctx context.Context, name, link string) (api.NotifyDelivery, error) {
	c, err := s.st.GetNotifyChannel(ctx, name)
	if err != nil {
		return api.NotifyDelivery{}, err
	}
	now := s.cfg.Now().UTC()
	m := Message{Kind: KindTest, Severity: "info", Subject: "[poolctl] test message for channel " + name, Link: link, At: now,
		Items: []Item{{Alert: KindTest, Cause: "a test sent with `poolctl notify test " + name + "`", Since: now}}}
	d, err := s.NewDelivery(c.ID, m)
	if err != nil {
		return api.NotifyDelivery{}, err
	}
	d.MaxAttempts = 1
	d.NextAt = now.Add(time.Hour) // not due for the workers: sent here
	if err := s.st.EnqueueDeliveries(ctx, []*store.NotifyDelivery{d}, now); err != nil {
		return api.NotifyDelivery{}, err
	}
	claimed, err := s.st.ClaimDelivery(ctx, d.ID, s.cfg.Holder, now, s.cfg.Lease)
	if err != nil {
		return api.NotifyDelivery{}, err
	}
	s.deliver(ctx, claimed)
	return s.Delivery(ctx, d.ID)
}

// Deliveries lists the delivery history, newest first.
func (s *Service) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]api.NotifyDelivery, error) {
	ds, err := s.st.ListDeliveries(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]api.NotifyDelivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, toAPIDelivery(d))
	}
	return out, nil
}

// Delivery shows one delivery with its attempts.
func (s *Service) Delivery(ctx context.Context, id int64) (api.NotifyDelivery, error) {
	d, err := s.st.GetDelivery(ctx, id)
	if err != nil {
		return api.NotifyDelivery{}, err
	}
	as, err := s.st.DeliveryAttempts(ctx, id)
	if err != nil {
		return api.NotifyDelivery{}, err
	}
	out := toAPIDelivery(d)
	for _, a := range as {
		out.AttemptLog = append(out.AttemptLog, api.NotifyAttempt{Seq: a.Seq, At: a.At, DurationMS: a.Duration.Milliseconds(), Outcome: a.Outcome, Error: a.Error})
	}
	return out, nil
}

func toAPIDelivery(d store.NotifyDelivery) api.NotifyDelivery {
	out := api.NotifyDelivery{ID: d.ID, Channel: d.Channel, Kind: d.Kind, Pool: d.Pool, Subject: d.Subject, Status: d.Status,
		Attempts: d.Attempts, MaxAttempts: d.MaxAttempts, LastError: d.LastError, CreatedAt: d.CreatedAt, FinishedAt: d.FinishedAt}
	if d.Status == store.DeliveryPending {
		t := d.NextAt
		out.NextAt = &t
	}
	return out
}
