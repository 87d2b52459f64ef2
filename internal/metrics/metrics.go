// Package metrics keeps poolctl's Prometheus metrics: one registry per
// server, counters and histograms the API, the failover engine and the
// notification workers feed, and collectors that read the nameserver's
// counters and the members' health when scraped. Every label has a bounded
// set of values: route patterns from the API's route table (never raw
// paths), status classes, RCODE names, outcome names, and at most
// MaxMembers members.
package metrics

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxMembers bounds the per-member series when Config.MaxMembers is 0.
const DefaultMaxMembers = 2000

// DNSSource is the built-in nameserver's counters. DNSCounters returns the
// requests received and the responses sent by RCODE name ("NOERROR",
// "NXDOMAIN", ...) since the nameserver started; the counts never go down.
// It must be safe to call from any goroutine.
type DNSSource interface {
	DNSCounters() (queries uint64, responses map[string]uint64)
}

// MemberState is one member's health as this server sees it.
type MemberState struct {
	Pool, Member string
	Status       string // pending, healthy, suspect or down
}

// MemberSource lists the members' health. MemberStates must be cheap (it
// runs on every scrape) and safe to call from any goroutine.
type MemberSource interface {
	MemberStates() []MemberState
}

// Config says where the scrape-time metrics come from.
type Config struct {
	DNS     DNSSource    // nil: no DNS metrics (no built-in nameserver)
	Members MemberSource // nil: no member metrics
	// MaxMembers bounds the poolctl_member_state series (the first members
	// by pool and name); DefaultMaxMembers when 0. The per-status totals
	// always count every member.
	MaxMembers int
}

// Registry is a server's metrics.
type Registry struct {
	reg        *prometheus.Registry
	heartbeats prometheus.Counter
	requests   *prometheus.HistogramVec
	failovers  *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

// Member status values of poolctl_member_state.
var statusValue = map[string]float64{"pending": 0, "healthy": 1, "suspect": 2, "down": 3}

// New builds a registry with the Go runtime and process collectors.
func New(cfg Config) *Registry {
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = DefaultMaxMembers
	}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "poolctl_heartbeats_received_total",
			Help: "Agent heartbeats accepted by this server.",
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "poolctl_api_request_duration_seconds",
			Help:    "API request durations by method, route pattern (from the route table) and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 30},
		}, []string{"method", "route", "code"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "poolctl_failovers_total",
			Help: "Moves of a pool's failover record by kind: cut (to a standby), failback, manual.",
		}, []string{"kind"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "poolctl_notify_deliveries_total",
			Help: "Notification delivery attempts by channel kind and outcome (delivered, retry, failed).",
		}, []string{"kind", "outcome"}),
	}
	r.reg.MustRegister(r.heartbeats, r.requests, r.failovers, r.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.DNS != nil {
		r.reg.MustRegister(dnsCollector{src: cfg.DNS})
	}
	if cfg.Members != nil {
		r.reg.MustRegister(memberCollector{src: cfg.Members, max: cfg.MaxMembers})
	}
	return r
}

// Handler serves the registry in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Gatherer is the registry, for tests and other exporters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Heartbeat counts one accepted heartbeat.
func (r *Registry) Heartbeat() { r.heartbeats.Inc() }

// Request observes one answered API request. pattern is the route's
// pattern from the route table; status is the HTTP status sent.
func (r *Registry) Request(method, pattern string, status int, d time.Duration) {
	r.requests.WithLabelValues(method, pattern, statusClass(status)).Observe(d.Seconds())
}

// Failover counts one move of a failover record; kind is cut, failback or
// manual (any other kind is counted as "other").
func (r *Registry) Failover(kind string) {
	switch kind {
	case "cut", "failback", "manual":
	default:
		kind = "other"
	}
	r.failovers.WithLabelValues(kind).Inc()
}

// Delivery counts one delivery attempt of a channel kind (email, webhook)
// with its outcome (delivered, retry, failed).
func (r *Registry) Delivery(kind, outcome string) {
	switch kind {
	case "email", "webhook":
	default:
		kind = "other"
	}
	switch outcome {
	case "delivered", "retry", "failed":
	default:
		outcome = "other"
	}
	r.deliveries.WithLabelValues(kind, outcome).Inc()
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// dnsCollector reads the nameserver's counters when scraped.
type dnsCollector struct{ src DNSSource }

var (
	dnsQueriesDesc   = prometheus.NewDesc("poolctl_dns_queries_total", "DNS requests received by the built-in nameserver (queries, transfers, NOTIFY).", nil, nil)
	dnsResponsesDesc = prometheus.NewDesc("poolctl_dns_responses_total", "DNS responses sent by the built-in nameserver by RCODE.", []string{"rcode"}, nil)
)

func (c dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dnsQueriesDesc
	ch <- dnsResponsesDesc
}

func (c dnsCollector) Collect(ch chan<- prometheus.Metric) {
	q, byRcode := c.src.DNSCounters()
	ch <- prometheus.MustNewConstMetric(dnsQueriesDesc, prometheus.CounterValue, float64(q))
	for rc, n := range byRcode {
		ch <- prometheus.MustNewConstMetric(dnsResponsesDesc, prometheus.CounterValue, float64(n), rc)
	}
}

// memberCollector reads the members' health when scraped.
type memberCollector struct {
	src MemberSource
	max int
}

var (
	memberStateDesc = prometheus.NewDesc("poolctl_member_state",
		"A member's health: 0 pending, 1 healthy, 2 suspect, 3 down (at most the first MaxMembers members by pool and name).", []string{"pool", "member"}, nil)
	membersDesc = prometheus.NewDesc("poolctl_members",
		"Members by health status (every member).", []string{"status"}, nil)
	membersOmittedDesc = prometheus.NewDesc("poolctl_member_series_omitted",
		"Members left out of poolctl_member_state because of the series limit.", nil, nil)
)

func (c memberCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- memberStateDesc
	ch <- membersDesc
	ch <- membersOmittedDesc
}

func (c memberCollector) Collect(ch chan<- prometheus.Metric) {
	ms := c.src.MemberStates()
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Pool != ms[j].Pool {
			return ms[i].Pool < ms[j].Pool
		}
		return ms[i].Member < ms[j].Member
	})
	counts := map[string]int{"pending": 0, "healthy": 0, "suspect": 0, "down": 0}
	omitted := 0
	seen := map[[2]string]bool{}
	emitted := 0
	for _, m := range ms {
		v, ok := statusValue[m.Status]
		if !ok {
			v = -1
		}
		if _, known := counts[m.Status]; known {
			counts[m.Status]++
		}
		key := [2]string{m.Pool, m.Member}
		if seen[key] {
			continue // a duplicate would fail the whole scrape
		}
		seen[key] = true
		if emitted >= c.max {
			omitted++
			continue
		}
		emitted++
		ch <- prometheus.MustNewConstMetric(memberStateDesc, prometheus.GaugeValue, v, m.Pool, m.Member)
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(n), st)
	}
	ch <- prometheus.MustNewConstMetric(membersOmittedDesc, prometheus.GaugeValue, float64(omitted))
}
