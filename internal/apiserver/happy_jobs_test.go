package apiserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

func testJobs(t *testing.T, e *env) {
	ctx := context.Background()
	ag := e.client(t, e.agent)
	type next struct {
		j   *api.Job
		err error
	}
	got := make(chan next, 1)
	go func() {
		j, err := ag.NextJob(ctx, 20*time.Second)
		got <- next{j, err}
	}()
	time.Sleep(300 * time.Millisecond)
	job, err := e.c.CreateJob(ctx, "web", "web1", api.JobCreate{Kind: "facts.refresh", Args: json.RawMessage(`{"full":true}`)})
	if err != nil {
		t.Fatalf("create job: %v", err)
	}
	if job.ID == 0 || job.Status != api.JobQueued || job.MaxAttempts != 3 || job.Pool != "web" || job.Member != "web1" {
		t.Errorf("queued job: got %+v, want queued for web/web1 with 3 attempts", job)
	}
	var j *api.Job
	select {
	case n := <-got:
		if n.err != nil || n.j == nil {
			t.Fatalf("agent long poll: got %v, %v, want job %d", n.j, n.err, job.ID)
		}
		j = n.j
	case <-time.After(10 * time.Second):
		t.Fatalf("agent long poll: got nothing within 10s of queueing, want job %d", job.ID)
	}
	if j.ID != job.ID || j.Status != api.JobRunning || j.Attempts != 1 || j.LeaseUntil == nil || string(j.Args) != `{"full":true}` {
		t.Errorf("claimed job: got %+v, want job %d running, attempt 1, with a lease and the args", j, job.ID)
	}

	// A follower waiting on the log sees lines as they are appended.
	type logs struct {
		lines []api.JobLogLine
		err   error
	}
	follow := make(chan logs, 1)
	go func() {
		l, err := e.c.JobLog(ctx, j.ID, 0, 20*time.Second)
		follow <- logs{l, err}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := ag.AppendJobLog(ctx, j.ID, []string{"one", "two"}); err != nil {
		t.Fatalf("append log: %v", err)
	}
	select {
	case f := <-follow:
		if f.err != nil || len(f.lines) == 0 || f.lines[0].Line != "one" || f.lines[0].Seq != 1 {
			t.Errorf("log follower: got %+v (%v), want line 1 \"one\"", f.lines, f.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("log follower: got nothing within 10s of the lines, want them")
	}
	if err := ag.AppendJobLog(ctx, j.ID, []string{"three"}); err != nil {
		t.Fatal(err)
	}
	lines, err := e.c.JobLog(ctx, j.ID, 0, 0)
	if err != nil || len(lines) != 3 || lines[2].Seq != 3 || lines[2].Line != "three" {
		t.Errorf("job log: got %+v (%v), want 3 lines, the last seq 3 \"three\"", lines, err)
	}
	lines, err = e.c.JobLog(ctx, j.ID, 2, 0)
	if err != nil || len(lines) != 1 || lines[0].Line != "three" {
		t.Errorf("job log after=2: got %+v (%v), want [three]", lines, err)
	}
	var page api.List[api.JobLogLine]
	wantStatus(t, "job log after=1", e.adminJSON(t, "GET", itoaPath("/api/v1/jobs/", j.ID, "/log?after=1"), ""), 200, &page)
	if len(page.Items) != 2 || page.NextAfter != 3 {
		t.Errorf("job log after=1: got %+v, want 2 lines and next_after 3", page)
	}

	if err := ag.FinishJob(ctx, j.ID, api.JobResult{OK: true, Result: json.RawMessage(`{"facts":"ok"}`)}); err != nil {
		t.Fatalf("finish job: %v", err)
	}
	done, err := e.c.GetJob(ctx, j.ID)
	if err != nil || done.Status != api.JobSucceeded || done.FinishedAt == nil || string(done.Result) != `{"facts":"ok"}` || done.LeaseUntil != nil {
		t.Errorf("finished job: got %+v (%v), want succeeded with its result and no lease", done, err)
	}
	start := time.Now()
	if lines, err := e.c.JobLog(ctx, j.ID, 3, 20*time.Second); err != nil || len(lines) != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("log follow of an ended job: got %v (%v) after %v, want none at once", lines, err, time.Since(start))
	}
	wantAPIError(t, "finish twice", ag.FinishJob(ctx, j.ID, api.JobResult{OK: true}), 410, "gone")
	wantAPIError(t, "log after finish", ag.AppendJobLog(ctx, j.ID, []string{"late"}), 410, "gone")
	for _, k := range []string{"job.queued", "job.started", "job.succeeded"} {
		if n := e.countEvents(t, k, "web1"); n != 1 {
			t.Errorf("%s events of web1: got %d, want 1", k, n)
		}
	}

	// A failed job keeps its error.
	j2, err := e.c.CreateJob(ctx, "web", "web1", api.JobCreate{Kind: "service.restart", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ag.NextJob(ctx, 5*time.Second); err != nil || c == nil || c.ID != j2.ID {
		t.Fatalf("next job: got %v (%v), want job %d", c, err, j2.ID)
	}
	if err := ag.FinishJob(ctx, j2.ID, api.JobResult{OK: false, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if f, err := e.c.GetJob(ctx, j2.ID); err != nil || f.Status != api.JobFailed || f.Error != "boom" {
		t.Errorf("failed job: got %+v (%v), want failed with error boom", f, err)
	}

	// A queued job can be cancelled and is then never handed out.
	j3, err := e.c.CreateJob(ctx, "web", "web1", api.JobCreate{Kind: "facts.refresh"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.c.CancelJob(ctx, j3.ID)
	if err != nil || c.Status != api.JobCancelled || c.FinishedAt == nil {
		t.Errorf("cancel: got %+v (%v), want cancelled", c, err)
	}
	if g, _ := e.c.GetJob(ctx, j3.ID); g.Status != api.JobCancelled {
		t.Errorf("job after cancel: got %s, want cancelled", g.Status)
	}
	r := e.agentJSON(t, e.agent, "GET", "/api/v1/agent/jobs/next?wait=0s", "")
	if r.status != 204 || len(r.body) != 0 {
		t.Errorf("next job with only a cancelled one: got %s, want 204 and no body", r)
	}
	js, err := e.c.ListJobs(ctx, "web", "web1")
	if err != nil || len(js) != 3 || js[0].ID != j3.ID || js[2].ID != j.ID {
		t.Errorf("job list: got %d jobs (%v), want 3, newest first", len(js), err)
	}
}

func testDeletePool(t *testing.T, e *env) {
	ctx := context.Background()
	_, err := e.c.DeletePool(ctx, "web", false)
	wantAPIError(t, "delete pool with a member", err, 409, "conflict")
	if err != nil && !strings.Contains(err.Error(), "web1") {
		t.Errorf("delete refusal: got %q, want it to name web1", err)
	}
	res, err := e.c.DeletePool(ctx, "web", true)
	if err != nil || res.Pool != "web" || strings.Join(res.RemovedMembers, ",") != "web1" {
		t.Errorf("forced delete: got %+v (%v), want web with removed_members [web1]", res, err)
	}
	_, err = e.client(t, e.agent).Heartbeat(ctx, heartbeat())
	wantAPIError(t, "heartbeat of a deleted pool's agent", err, 410, "gone")
	if ps, err := e.c.ListPools(ctx); err != nil || len(ps) != 0 {
		t.Errorf("pools after delete: got %v (%v), want none", ps, err)
	}
	if n := e.countEvents(t, "pool.deleted", ""); n != 2 {
		t.Errorf("pool.deleted events: got %d, want 2", n)
	}
}
