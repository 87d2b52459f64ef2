package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
)

// move is one change of a pool's active member.
type move struct {
	kind   string       // KindActivated, KindCut, KindFailback or KindManual
	from   *MemberState // nil when the pool had no active member
	to     MemberState
	now    time.Time
	why    string         // "because ..." for people
	data   map[string]any // the reasons, for the event's Data
	banner bool           // store a failover banner with the move
	hook   bool           // run the pool's post-failover hook
}

// verb names a move in messages.
func (mv move) verb() string {
	switch mv.kind {
	case KindCut:
		return "failed over"
	case KindFailback:
		return "failed back"
	case KindManual:
		return "switched by an operator"
	default:
		return "activated"
	}
}

// apply records mv (fenced by epoch), reports it, publishes the record and
// starts the hook. A refused fenced write is returned as is (it wraps
// ErrFenced); a publish failure is reported and retried by later ticks.
func (e *Engine) apply(ctx context.Context, epoch int64, p PoolState, r *poolRun, mv move) error {
	var banner *api.Banner
	at := mv.now.UTC()
	if mv.banner {
		banner = &api.Banner{
			Message: fmt.Sprintf("%s to %s at %s, because %s", mv.verb(), mv.to.Name, at.Format(time.RFC3339), mv.why),
			To:      mv.to.Name,
			At:      at,
		}
		if mv.from != nil {
			banner.From = mv.from.Name
		}
	}
	if err := e.cfg.State.SetActive(ctx, p.ID, mv.to.ID, banner, epoch); err != nil {
		if errors.Is(err, ErrFenced) {
			return err
		}
		return fmt.Errorf("failover: make %s active in pool %s: %w", mv.to.Name, p.Name, err)
	}
	if mv.kind != KindActivated {
		r.lastCut = mv.now
	}
	e.endEpisode(r)
	r.ep.member = mv.to.ID

	from := ""
	if mv.from != nil {
		from = mv.from.Name
	}
	data := map[string]any{}
	for k, v := range mv.data {
		data[k] = v
	}
	data["to"], data["address"] = mv.to.Name, addrString(mv.to)
	if from != "" {
		data["from"] = from
	}
	if p.Record != "" {
		data["record"] = p.Record
	}
	var msg string
	switch {
	case mv.kind == KindActivated:
		msg = fmt.Sprintf("pool %s activated with %s", p.Name, mv.to.Name)
	case from == "":
		msg = fmt.Sprintf("pool %s %s to %s", p.Name, mv.verb(), mv.to.Name)
	default:
		msg = fmt.Sprintf("pool %s %s from %s to %s", p.Name, mv.verb(), from, mv.to.Name)
	}
	if p.Record != "" {
		msg += fmt.Sprintf(" (%s → %s)", p.Record, addrString(mv.to))
	}
	var accounts any
	if mv.kind == KindCut && from != "" && e.cfg.Accounts != nil {
		cut, err := e.cfg.Accounts.CutAccounts(ctx, p.Name, from)
		if err != nil {
			e.log.Error("cut the failed member's accounts", "pool", p.Name, "member", from, "err", err)
			cut = map[string]string{"error": err.Error()}
		}
		accounts, data["accounts"] = cut, cut
	}
	// The record is published before the move is reported, so that the
	// event says where and how it went; a failure is reported after it.
	report, pubErr := e.publish(ctx, p, r, mv.to)
	if p.Record != "" && mv.to.Address.IsValid() {
		dnsData := map[string]any{"provider": providerName(p)}
		if pubErr != nil {
			dnsData["error"] = pubErr.Error()
		} else {
			dnsData["published"] = true
		}
		data["dns"] = dnsData
	}
	e.emit(ctx, mv.kind, p.Name, mv.to.Name, msg+", because "+mv.why, data)
	if report != nil {
		report()
	}

	if mv.hook && p.Hook != "" {
		e.startHook(ctx, p, hookPayload{
			Event: mv.kind, Pool: p.Name, Record: p.Record, From: from, To: mv.to.Name,
			Address: addrString(mv.to), At: at, Reason: mv.why, Accounts: accounts,
		})
	}
	return pubErr
}

// publishKey identifies what a publish wrote, so that a change of address,
// record, TTL or provider publishes again.
func publishKey(p PoolState, m MemberState) string {
	return fmt.Sprintf("%s %d %s %s", p.Record, p.TTL, m.Address, p.Provider)
}

// providerName names where p's record is published, for events.
func providerName(p PoolState) string {
	if p.Provider == "" {
		return "builtin"
	}
	return p.Provider
}

// ensurePublished publishes p's record for its active member m unless this
// term already did. A failure is reported once per key and retried by the
// next call.
func (e *Engine) ensurePublished(ctx context.Context, p PoolState, r *poolRun, m MemberState) error {
	report, err := e.publish(ctx, p, r, m)
	if report != nil {
		report()
	}
	return err
}

// publish is ensurePublished with the report of a failure (an event, once
// per key) returned for the caller to run, nil when there is none.
func (e *Engine) publish(ctx context.Context, p PoolState, r *poolRun, m MemberState) (func(), error) {
	if p.Record == "" || !m.Address.IsValid() {
		return nil, nil
	}
	key := publishKey(p, m)
	if r.published == key {
		return nil, nil
	}
	if err := e.cfg.Publisher.Publish(ctx, p, m.Address); err != nil {
		err = fmt.Errorf("failover: publish %s → %s at %s for pool %s: %w", p.Record, m.Address, providerName(p), p.Name, err)
		if r.publishErr == key {
			return nil, err
		}
		r.publishErr = key
		return func() {
			e.emit(ctx, KindPublishError, p.Name, m.Name, err.Error()+"; retrying every tick",
				map[string]any{"record": p.Record, "address": m.Address.String(), "provider": providerName(p), "error": err.Error()})
		}, err
	}
	r.published, r.publishErr = key, ""
	return nil, nil
}

// emit records an event with data marshalled as its Data.
func (e *Engine) emit(ctx context.Context, kind, pool, member, msg string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		raw = nil
	}
	e.log.Debug(msg, "event", kind, "pool", pool, "member", member)
	e.cfg.Events.Emit(context.WithoutCancel(ctx), api.Event{
		Time: e.cfg.Now().UTC(), Kind: kind, Pool: pool, Member: member, Message: msg, Data: raw,
	})
}

func addrString(m MemberState) string {
	if !m.Address.IsValid() {
		return ""
	}
	return m.Address.String()
}
