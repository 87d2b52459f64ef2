// Package apperr classifies errors so that the API can map them to status
// codes in one place. Packages wrap a Kind with a message naming what failed;
// callers match with errors.Is(err, apperr.NotFound) and never by text.
package apperr

import (
	"context"
	"errors"
	"fmt"
)

// Kind is a class of failure. Kinds are comparable sentinel errors. Each
// carries the HTTP status the API and the dashboard answer it with (a plain
// number: this package imports no HTTP code, so engines may use it).
type Kind struct {
	code   string
	status int
}

func (k *Kind) Error() string { return k.code }

// Code is the machine-readable code sent in API error bodies.
func (k *Kind) Code() string { return k.code }

// Status is the HTTP status code for errors of kind k.
func (k *Kind) Status() int { return k.status }

// The kinds of failure the API distinguishes.
var (
	Invalid      = &Kind{"invalid", 400}      // the request is malformed or a value is out of range
	Unauthorized = &Kind{"unauthorized", 401} // no or an unknown credential
	Forbidden    = &Kind{"forbidden", 403}    // a credential that may not do this
	NotFound     = &Kind{"not_found", 404}
	Conflict     = &Kind{"conflict", 409}    // exists already, or the state forbids it
	Gone         = &Kind{"gone", 410}        // the member or job was removed
	TooLarge     = &Kind{"too_large", 413}   // the request body is too large
	Unavailable  = &Kind{"unavailable", 503} // try again later

	// TooManyRequests: a rate limit refused the request (429).
	TooManyRequests = &Kind{"too_many_requests", 429}

	// LengthRequired: a raw upload came without a Content-Length.
	LengthRequired = &Kind{"length_required", 411}

	// AgentTooOld and AgentTooNew: the agent's version is outside the
	// server's version skew policy (docs/agents.md, "Versions").
	AgentTooOld = &Kind{"agent_too_old", 426}
	AgentTooNew = &Kind{"agent_too_new", 409}
)

// Status maps err to an HTTP status and code: its kind's, 499 for a
// cancelled request, else 500 "internal".
func Status(err error) (int, string) {
	if k := KindOf(err); k != nil {
		return k.status, k.code
	}
	if errors.Is(err, context.Canceled) {
		return 499, "canceled"
	}
	return 500, "internal"
}

// Error is an error of a Kind with a message for people.
type Error struct {
	Kind *Kind
	Msg  string
	Err  error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Is reports whether target is e's Kind, so errors.Is(err, apperr.NotFound) works.
func (e *Error) Is(target error) bool { return target == e.Kind }

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a formatted message.
func New(k *Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a message and a cause.
func Wrap(k *Kind, err error, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of err, or nil when it has none.
func KindOf(err error) *Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, k := range []*Kind{Invalid, Unauthorized, Forbidden, NotFound, Conflict, Gone, TooLarge, LengthRequired, Unavailable, AgentTooOld, AgentTooNew} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Message returns the message of the outermost classified error in err's
// chain, or err's text when none is classified.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}
