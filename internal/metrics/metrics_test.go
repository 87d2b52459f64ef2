package metrics

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

type members []MemberState

func (m members) MemberStates() []MemberState { return append([]MemberState(nil), m...) }

func gather(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func TestMemberSeriesBounded(t *testing.T) {
	var ms members
	for i := range 10 {
		ms = append(ms, MemberState{Pool: "p", Member: fmt.Sprintf("m%02d", i), Status: "down"})
	}
	ms = append(ms, ms[0]) // a duplicate must not break the scrape
	r := New(Config{Members: ms, MaxMembers: 4})
	fams := gather(t, r)
	if n := len(fams["poolctl_member_state"].GetMetric()); n != 4 {
		t.Errorf("poolctl_member_state series: got %d, want 4 (MaxMembers)", n)
	}
	if v := fams["poolctl_member_series_omitted"].GetMetric()[0].GetGauge().GetValue(); v != 6 {
		t.Errorf("poolctl_member_series_omitted: got %v, want 6", v)
	}
	for _, m := range fams["poolctl_members"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "down" && m.GetGauge().GetValue() != 11 {
			t.Errorf(`poolctl_members{status="down"}: got %v, want 11 (every member counted)`, m.GetGauge().GetValue())
		}
	}
}

func TestLabelsBounded(t *testing.T) {
	r := New(Config{})
	r.Delivery("carrier-pigeon", "lost")
	r.Failover("sideways")
	r.Request("GET", "/api/v1/pools/{pool}", 999, time.Millisecond)
	fams := gather(t, r)
	d := fams["poolctl_notify_deliveries_total"].GetMetric()[0]
	if got := d.GetLabel()[0].GetValue() + "/" + d.GetLabel()[1].GetValue(); got != "other/other" {
		t.Errorf("delivery labels for unknown values: got %s, want other/other", got)
	}
	if got := fams["poolctl_failovers_total"].GetMetric()[0].GetLabel()[0].GetValue(); got != "other" {
		t.Errorf("failover kind for an unknown value: got %s, want other", got)
	}
	for _, l := range fams["poolctl_api_request_duration_seconds"].GetMetric()[0].GetLabel() {
		if l.GetName() == "code" && l.GetValue() != "other" {
			t.Errorf("status class of 999: got %s, want other", l.GetValue())
		}
	}
	if fams["poolctl_dns_responses_total"] != nil || fams["poolctl_member_state"] != nil {
		t.Errorf("without sources: got DNS or member series, want none")
	}
}
