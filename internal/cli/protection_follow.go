package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// followAndReport follows run id until it ends: its log lines go to stdout
// (to stderr with --output json, where stdout gets the ended run as JSON),
// its progress to stderr. A run that did not succeed is an error, so the
// command exits non-zero.
func followAndReport(cmd *cobra.Command, g *globals, c *client.Client, pool, account string, id int64) error {
	asJSON, err := g.json()
	if err != nil {
		return err
	}
	out := g.stdout
	if asJSON {
		out = g.stderr
	}
	f := &runFollower{c: c, out: out, pr: newProgress(g.stderr, id), wait: 20 * time.Second, idle: time.Second}
	run, err := f.follow(cmd.Context(), id)
	if err != nil && cmd.Context().Err() != nil {
		return fmt.Errorf("stopped following run %d before it ended; it goes on: poolctl protection log %s %s --run %d --follow", id, pool, account, id)
	}
	if err != nil {
		return err
	}
	if asJSON {
		if err := g.emit(run, nil); err != nil {
			return err
		}
	}
	if run.Status == api.RunNeedsConfirmation {
		return fmt.Errorf("run %d needs confirmation: %s; the copy on the standby was left as it was. "+
			"Replace it anyway: poolctl protection confirm %d; or discard this run: poolctl protection reject %d",
			run.ID, strings.Join(run.Guard.Reasons, "; "), run.ID, run.ID)
	}
	if run.Status != api.RunSucceeded {
		msg := run.Error
		if msg == "" {
			msg = "the server gave no reason; see the log above"
		}
		return fmt.Errorf("run %d %s: %s", run.ID, run.Status, msg)
	}
	return nil
}

// runFollower streams a run's log through long polls, like followJob, and
// keeps a progress indicator up to date.
type runFollower struct {
	c   *client.Client
	out io.Writer // where log lines go
	pr  *progress
	// wait is each log request's long-poll wait; idle is the pause after
	// an empty answer that came back early.
	wait, idle time.Duration
}

func runEnded(r api.Run) bool {
	return r.FinishedAt != nil || r.Status == api.RunSucceeded || r.Status == api.RunFailed ||
		(r.Status == api.RunNeedsConfirmation && r.Guard != nil && r.Guard.Decision == "")
}

// follow prints the run's log from the start until the run ends and
// returns the ended run.
func (f *runFollower) follow(ctx context.Context, id int64) (api.Run, error) {
	defer f.pr.stop()
	run, err := f.c.GetRun(ctx, id)
	if err != nil {
		return run, err
	}
	f.pr.setRun(run)
	var after int64
	for {
		asked := time.Now()
		lines, err := f.c.RunLog(ctx, id, after, f.wait)
		if err != nil {
			return run, err
		}
		after = f.show(lines, after)
		// The step the run is at (one small request per answer: the log
		// comes in batches, as the agents send it).
		run, err = f.c.GetRun(ctx, id)
		if err != nil {
			return run, err
		}
		f.pr.setRun(run)
		if runEnded(run) {
			// Lines written as it ended.
			for {
				rest, err := f.c.RunLog(ctx, id, after, 0)
				if err != nil || len(rest) == 0 {
					break
				}
				next := f.show(rest, after)
				if next == after {
					break
				}
				after = next
			}
			f.pr.finish(run)
			return run, nil
		}
		if len(lines) == 0 && time.Since(asked) < f.wait/2 {
			// The server did not hold the request: do not spin.
			select {
			case <-ctx.Done():
				return run, ctx.Err()
			case <-time.After(f.idle):
			}
		}
	}
}

// show prints the lines after seq and returns the last sequence number.
func (f *runFollower) show(lines []api.RunLogLine, after int64) int64 {
	for _, l := range lines {
		if l.Seq <= after {
			continue
		}
		f.pr.println(f.out, logLineText(l))
		f.pr.logLine(l.Line)
		after = l.Seq
	}
	return after
}

// progress shows how far a run is on a writer (stderr). On a terminal it
// is one line redrawn in place: a bar, the percentage, the step, the time
// since the follow began and the latest log line. Elsewhere it is a line
// per step. The percentage is an estimate: the step sets its range
// (queued, snapshot up to 60 %, restore up to 99 %) and the log lines move
// it within that range when they carry a count such as "120/4000" or "45%".
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	id    int64
	now   func() time.Time
	start time.Time

	phase string
	frac  float64 // within the phase, 0..1
	last  string  // the latest log line
	shown bool    // a bar is on the screen

	done     chan struct{}
	stopOnce sync.Once
}

func newProgress(w io.Writer, id int64) *progress {
	p := &progress{w: w, id: id, now: time.Now, width: 80, done: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols >= 20 {
			p.width = cols
		}
		go p.tick()
	}
	p.start = p.now()
	return p
}

// tick redraws the bar so that its clock moves while the log is quiet.
func (p *progress) tick() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// stop ends the ticker and takes the bar off the screen.
func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.done) })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

var phaseText = map[string]string{
	api.RunQueued:   "queued",
	api.RunSnapshot: "snapshot: the source is chunking the account and uploading new chunks",
	api.RunRestore:  "restore: the standby is restoring the account",
}

// setRun moves the indicator to the run's step.
func (p *progress) setRun(r api.Run) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Status == p.phase {
		return
	}
	p.phase, p.frac = r.Status, 0
	if !p.tty {
		if t, ok := phaseText[r.Status]; ok {
			fmt.Fprintf(p.w, "run %d: %s\n", p.id, t)
		}
		return
	}
	p.draw()
}

// logLine takes a log line into account.
func (p *progress) logLine(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = s
	if f, ok := lineFraction(s); ok && f > p.frac {
		p.frac = f
	}
	p.draw()
}

// println prints a line on out without mixing it with the bar.
func (p *progress) println(out io.Writer, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(out, s)
	p.draw()
}

// finish replaces the indicator by the run's outcome.
func (p *progress) finish(r api.Run) {
	p.stopOnce.Do(func() { close(p.done) })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	took := p.now().Sub(p.start)
	if r.StartedAt != nil && r.FinishedAt != nil {
		took = r.FinishedAt.Sub(*r.StartedAt)
	}
	if r.Status == api.RunSucceeded {
		fmt.Fprintf(p.w, "run %d succeeded in %s\n", p.id, humanDuration(took))
		return
	}
	msg := ""
	if r.Error != "" {
		msg = ": " + r.Error
	}
	fmt.Fprintf(p.w, "run %d %s after %s%s\n", p.id, r.Status, humanDuration(took), msg)
}

func (p *progress) clear() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func (p *progress) draw() {
	if !p.tty || p.phase == "" {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	fmt.Fprint(p.w, "\r\033[K"+p.render())
	p.shown = true
}

// phaseSpan is the part of the whole run a step stands for.
func phaseSpan(status string) (lo, hi float64) {
	switch status {
	case api.RunSnapshot:
		return 0.02, 0.60
	case api.RunRestore:
		return 0.60, 0.99
	case api.RunSucceeded, api.RunFailed:
		return 1, 1
	}
	return 0, 0.02
}

const barWidth = 24

// render is the bar's line, at most width-1 columns wide.
func (p *progress) render() string {
	lo, hi := phaseSpan(p.phase)
	pct := lo + p.frac*(hi-lo)
	n := int(pct * barWidth)
	bar := strings.Repeat("=", n) + strings.Repeat(" ", barWidth-n)
	if n > 0 && n < barWidth {
		bar = strings.Repeat("=", n-1) + ">" + strings.Repeat(" ", barWidth-n)
	}
	s := fmt.Sprintf("run %d [%s] %3d%% %s %s", p.id, bar, int(math.Round(pct*100)), p.phase, humanDuration(p.now().Sub(p.start)))
	if p.last != "" {
		s += "  " + strings.Join(strings.Fields(p.last), " ")
	}
	return truncate(s, p.width-1)
}

func truncate(s string, cols int) string {
	if utf8.RuneCountInString(s) <= cols {
		return s
	}
	r := []rune(s)
	return string(r[:cols-1]) + "…"
}

var (
	percentRE  = regexp.MustCompile(`(\d{1,3}(?:\.\d+)?)\s?%`)
	fractionRE = regexp.MustCompile(`(?i)(\bstep\s+)?\b(\d+)\s?/\s?(\d+)\b`)
)

// lineFraction finds how far a log line says its step is: "45%" or
// "120/4000" (the last such count of the line). The engine's own "step 2/3"
// counts steps, which the run's status already tells: they are skipped.
func lineFraction(s string) (float64, bool) {
	if m := percentRE.FindAllStringSubmatch(s, -1); m != nil {
		v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
		if err == nil && v >= 0 && v <= 100 {
			return v / 100, true
		}
	}
	ms := fractionRE.FindAllStringSubmatch(s, -1)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i][1] != "" {
			continue
		}
		a, errA := strconv.ParseInt(ms[i][2], 10, 64)
		b, errB := strconv.ParseInt(ms[i][3], 10, 64)
		if errA == nil && errB == nil && b > 0 && a <= b {
			return float64(a) / float64(b), true
		}
	}
	return 0, false
}
