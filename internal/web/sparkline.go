package web

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/store"
)

// sparkSpan is the period the sparklines cover, one point per minute.
const sparkSpan = time.Hour

// Sparkline geometry, in SVG user units (the element has a fixed size).
const (
	sparkW = 120.0
	sparkH = 32.0
)

// spark is one sparkline: an SVG path and the figures beside it.
type spark struct {
	Label, Last, Peak string
	Path              string
	Empty             bool
}

// sparks turns the last hour's one-minute samples into sparklines for CPU,
// memory, the fullest disk, load and network traffic. Minutes without a
// sample (the agent was silent) leave gaps in the line.
func sparks(samples []store.Sample, now time.Time) []spark {
	const n = int(sparkSpan / time.Minute)
	start := now.Add(-sparkSpan).Truncate(time.Minute)
	series := make([][n]float64, 6)
	for i := range series {
		for j := range series[i] {
			series[i][j] = math.NaN()
		}
	}
	for _, s := range samples {
		j := int(s.At.Sub(start) / time.Minute)
		if j < 0 || j >= n {
			continue
		}
		for i, v := range []float64{s.CPU, s.Mem, s.Disk, s.Load1, float64(s.NetRx), float64(s.NetTx)} {
			series[i][j] = v
		}
	}
	pct := func(v float64) string { return fmt.Sprintf("%.0f%%", v) }
	load := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	rate := func(v float64) string { return humanBytes(uint64(math.Max(v, 0))) + "/s" }
	specs := []struct {
		label  string
		fixed  float64 // scale maximum; 0 scales to the peak
		format func(float64) string
	}{{"CPU", 100, pct}, {"Memory", 100, pct}, {"Disk (fullest)", 100, pct}, {"Load (1 min)", 0, load}, {"Network in", 0, rate}, {"Network out", 0, rate}}
	out := make([]spark, len(specs))
	for i, sp := range specs {
		out[i] = sparkOf(sp.label, series[i][:], sp.fixed, sp.format)
	}
	return out
}

func sparkOf(label string, vs []float64, fixed float64, format func(float64) string) spark {
	s := spark{Label: label}
	peak, last := math.Inf(-1), math.NaN()
	for _, v := range vs {
		if !math.IsNaN(v) {
			peak, last = math.Max(peak, v), v
		}
	}
	if math.IsNaN(last) {
		s.Empty, s.Last, s.Peak = true, "—", "—"
		return s
	}
	s.Last, s.Peak = format(last), format(peak)
	top := fixed
	if top == 0 {
		top = peak * 1.1
	}
	if top <= 0 {
		top = 1
	}
	var b strings.Builder
	pen := false
	step := sparkW / float64(len(vs)-1)
	for j, v := range vs {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		x := float64(j) * step
		y := sparkH - 1 - clamp(v/top, 0, 1)*(sparkH-2)
		if pen {
			fmt.Fprintf(&b, "L%.1f %.1f", x, y)
		} else {
			fmt.Fprintf(&b, "M%.1f %.1fh0", x, y) // h0: a lone minute still shows as a dot
		}
		pen = true
	}
	s.Path = b.String()
	return s
}
