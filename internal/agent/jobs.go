package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

const (
	maxLogLine     = 8 << 10 // longer log lines are cut
	maxLogBuffered = 10000   // lines kept while the server is unreachable
	maxLogBatch    = 500     // lines per AppendJobLog request
	finishAttempts = 10
)

// jobLoop long-polls for jobs and runs them, at most maxJobs at a time,
// until ctx is done (nil) or the server answers 410 (ErrRemoved). It waits
// for running jobs to report before it returns.
func (a *Agent) jobLoop(ctx context.Context) error {
	log := a.log.With("component", "agent.jobs")
	sem := make(chan struct{}, a.maxJobs)
	var running sync.WaitGroup
	defer running.Wait()
	bo := &backoff{min: a.backoffMin, max: a.backoffMax, rand: a.rand, reach: a.reach}
	for {
		// Hold a slot before asking, so the agent never leases a job it
		// cannot start.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		began := time.Now()
		job, err := a.srv.NextJob(ctx, a.pollWait)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			a.reach.ok()
		}
		if (err == nil && job == nil) || (err != nil && isTimeout(err)) {
			// No job within the wait (or the long poll ran out of time on
			// our side): ask again, but never faster than minPoll, in case
			// a server or proxy answers long polls at once.
			<-sem
			bo.reset()
			if !sleep(ctx, a.minPoll-time.Since(began)) {
				return nil
			}
			continue
		}
		if err != nil {
			<-sem
			wait := bo.next()
			var wake <-chan struct{}
			switch classify(err) {
			case failRemoved:
				return ErrRemoved
			case failAuth:
				// The heartbeat loop reports refused credentials.
				wait = a.authRetry
			case failTransient:
				if unanswered(err) {
					a.reach.fail()
				}
				wake = a.reach.returned()
			}
			log.Debug("poll for jobs failed", "err", err, "retry_in", wait)
			if !sleepUnless(ctx, wait, wake) {
				return nil
			}
			continue
		}
		bo.reset()
		a.running.add(job.ID)
		running.Go(func() {
			defer func() { <-sem }()
			defer a.running.remove(job.ID)
			a.runJob(ctx, *job, log.With("job", job.ID, "kind", job.Kind))
		})
	}
}

// jobCheckEvery is how long a job's log stream may stay silent: then an
// empty batch renews the job's lease and, answered 410, tells the agent
// that the server cancelled the job (or gave it to another process).
const jobCheckEvery = 5 * time.Second

// errJobCancelled is the cause of a job handler's context once the server
// answered 410 Gone to the job's log lines or result: the job was
// cancelled (for a restore, e.g. because the account's DNS was cut to this
// member, which now serves the live copy) or handed to another process.
var errJobCancelled = errors.New("the server no longer runs this job (it was cancelled)")

// runJob runs one job through its handler, streams its log and reports
// its result. The handler's context ends, with errJobCancelled as its
// cause, as soon as the server answers 410 to the job's log or result, so
// that every handler stops a job the server cancelled.
func (a *Agent) runJob(ctx context.Context, job api.Job, log *slog.Logger) {
	log.Info("job started")
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jl := a.newJobLog(job.ID, log, cancel)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		jl.flushLoop(ctx)
	}()

	var res api.JobResult
	result, err := a.callHandler(hctx, job, jl.add)
	if rs := restartOf(err); rs != nil {
		// agent.update put a new binary in place (update.go).
		jl.close()
		<-flushed
		a.restartInto(ctx, job, rs, log)
		return
	}
	cancelled := errors.Is(context.Cause(hctx), errJobCancelled)
	switch {
	case cancelled && err != nil && !errors.Is(err, errJobCancelled):
		err = fmt.Errorf("%w: %w", context.Cause(hctx), err)
	case ctx.Err() != nil && err != nil:
		err = fmt.Errorf("agent stopping: %w", err)
	}
	if result != nil {
		if b, merr := json.Marshal(result); merr != nil {
			err = fmt.Errorf("encode job result: %w", merr)
		} else {
			res.Result = b
		}
	}
	if err != nil {
		res.Error = err.Error()
		jl.add("error: " + res.Error)
	} else {
		res.OK = true
	}
	jl.close()
	<-flushed
	if cancelled {
		// The server ended the job already and takes no result for it.
		log.Info("job stopped: the server cancelled it", "err", res.Error)
		return
	}
	a.finish(ctx, job.ID, res, log, cancel)
	if res.OK {
		log.Info("job succeeded")
	} else {
		log.Warn("job failed", "err", res.Error)
	}
}

// callHandler runs the handler for job.Kind, turning a panic into an error.
func (a *Agent) callHandler(ctx context.Context, job api.Job, logf func(string)) (result any, err error) {
	h := a.handler(job.Kind)
	if h == nil {
		return nil, fmt.Errorf("unknown job kind %q: this agent runs %s", job.Kind, strings.Join(a.Kinds(), ", "))
	}
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("job handler panicked", "component", "agent.jobs", "kind", job.Kind, "panic", p, "stack", string(debug.Stack()))
			result, err = nil, fmt.Errorf("job handler %q panicked: %v", job.Kind, p)
		}
	}()
	return h(ctx, job, logf)
}

// finish reports a job's result, retrying through an outage. When the agent
// is stopping it still makes one short attempt. A 410 answer (the job was
// cancelled meanwhile) cancels the job's context with errJobCancelled.
func (a *Agent) finish(ctx context.Context, id int64, res api.JobResult, log *slog.Logger, gone context.CancelCauseFunc) {
	bo := &backoff{min: a.backoffMin, max: a.backoffMax, rand: a.rand}
	for attempt := 1; ; attempt++ {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		err := a.srv.FinishJob(fctx, id, res)
		cancel()
		if err == nil {
			return
		}
		if client.StatusOf(err) == http.StatusGone {
			gone(fmt.Errorf("%w: %v", errJobCancelled, err))
			log.Info("job result not taken: the server cancelled the job", "err", err)
			return
		}
		if classify(err) != failTransient || ctx.Err() != nil || attempt == finishAttempts {
			log.Error("report job result", "err", err, "attempts", attempt)
			return
		}
		if !sleep(ctx, bo.next()) {
			log.Error("report job result: agent stopping", "err", err)
			return
		}
	}
}

// jobLog batches a job's log lines into AppendJobLog calls: every
// logFlushEvery, or as soon as logFlushLines are waiting. While the server is
// unreachable it keeps up to maxLogBuffered lines, dropping the oldest.
// When the job prints nothing for leaseKeepalive (at most jobCheckEvery)
// it sends an empty batch, which renews the job's lease. A 410 answer
// calls gone with errJobCancelled and ends the stream: the server takes
// no more lines for the job.
type jobLog struct {
	a    *Agent
	id   int64
	log  *slog.Logger
	gone context.CancelCauseFunc
	mu   sync.Mutex
	buf  []string
	drop int
	kick chan struct{}
	done chan struct{}
}

func (a *Agent) newJobLog(id int64, log *slog.Logger, gone context.CancelCauseFunc) *jobLog {
	return &jobLog{a: a, id: id, log: log, gone: gone, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// add queues line (split at newlines); safe for concurrent use.
func (l *jobLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for part := range strings.Lines(line) {
		part = strings.TrimRight(part, "\r\n")
		if len(part) > maxLogLine {
			part = part[:maxLogLine] + " [cut]"
		}
		if len(l.buf) >= maxLogBuffered {
			l.buf = l.buf[1:]
			l.drop++
		}
		l.buf = append(l.buf, part)
	}
	if len(l.buf) >= l.a.logFlushLines {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// take removes up to maxLogBatch waiting lines.
func (l *jobLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drop > 0 {
		l.buf = append([]string{fmt.Sprintf("[agent: %d log lines dropped while the server was unreachable]", l.drop)}, l.buf...)
		l.drop = 0
	}
	n := min(len(l.buf), maxLogBatch)
	batch := l.buf[:n:n]
	l.buf = l.buf[n:]
	return batch
}

// putBack returns an unsent batch to the front of the queue.
func (l *jobLog) putBack(batch []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(batch, l.buf...)
	if over := len(l.buf) - maxLogBuffered; over > 0 {
		l.buf = l.buf[over:]
		l.drop += over
	}
}

func (l *jobLog) pending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf) > 0 || l.drop > 0
}

// close ends the job's log; flushLoop sends what is left and returns.
func (l *jobLog) close() { close(l.done) }

// flushLoop sends batches until close; then it sends the rest. It returns
// at once when the server answers 410 (the job no longer runs there).
func (l *jobLog) flushLoop(ctx context.Context) {
	t := time.NewTicker(l.a.logFlushEvery)
	defer t.Stop()
	quiet := min(l.a.leaseKeepalive, jobCheckEvery)
	last := time.Now()
	for {
		select {
		case <-l.done:
			for l.pending() {
				if err := l.send(context.WithoutCancel(ctx), l.take()); err != nil {
					if !l.cancelled(err) {
						l.log.Warn("send job log", "err", err)
					}
					return
				}
			}
			return
		case <-t.C:
		case <-l.kick:
		}
		if !l.pending() && time.Since(last) < quiet {
			continue
		}
		for {
			batch := l.take()
			err := l.send(ctx, batch)
			last = time.Now()
			if l.cancelled(err) {
				return
			}
			if err != nil {
				if classify(err) == failRequest {
					if len(batch) == 0 {
						break // the server does not take empty batches as lease renewals
					}
					l.log.Warn("server refused job log lines; dropped", "err", err, "lines", len(batch))
				} else {
					l.putBack(batch)
				}
				break
			}
			if !l.pending() {
				break
			}
		}
	}
}

// cancelled reports whether err is the server's 410 for the job, and then
// cancels the job's handler and drops what is left of its log.
func (l *jobLog) cancelled(err error) bool {
	if client.StatusOf(err) != http.StatusGone {
		return false
	}
	l.gone(fmt.Errorf("%w: %v", errJobCancelled, err))
	l.mu.Lock()
	l.buf, l.drop = nil, 0
	l.mu.Unlock()
	l.log.Info("the server cancelled the job: stopping it", "err", err)
	return true
}

// send posts one batch (an empty one renews the lease).
func (l *jobLog) send(ctx context.Context, batch []string) error {
	if batch == nil {
		batch = []string{}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := l.a.srv.AppendJobLog(ctx, l.id, batch); err != nil {
		l.log.Debug("append job log", "err", err, "lines", len(batch))
		return fmt.Errorf("append job log: %w", err)
	}
	return nil
}

// jobSet is the set of jobs an agent process is running. Heartbeats report
// it, so that the server hands out again at once the jobs a previous process
// of this agent was killed in the middle of.
type jobSet struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

func (s *jobSet) add(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[int64]struct{})
	}
	s.ids[id] = struct{}{}
}

func (s *jobSet) remove(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

// list returns the running jobs, never nil: an empty list tells the server
// that no job runs.
func (s *jobSet) list() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
