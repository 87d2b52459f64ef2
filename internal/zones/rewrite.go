package zones

import (
	"context"
	"fmt"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/store"
)

// Rewrite replaces one record's value and TTL.
type Rewrite struct {
	ID       int64 // the record to replace
	Old, New string
	TTL      int
}

// RewriteRecords applies rewrites to a zone in one edit (one serial, one
// journal entry): each record is replaced by a copy with the new value and
// TTL. If a record was deleted or changed since it was read, nothing is
// changed and the answer is a Conflict, so a cut never half-applies.
func (s *Service) RewriteRecords(ctx context.Context, zone string, rw []Rewrite, why string) error {
	name, err := zoneName(zone)
	if err != nil {
		return err
	}
	if len(rw) == 0 {
		return nil
	}
	byID := make(map[int64]Rewrite, len(rw))
	for _, r := range rw {
		if r.TTL < 0 {
			return apperr.New(apperr.Invalid, "ttl %d must not be negative", r.TTL)
		}
		byID[r.ID] = r
	}
	found := map[int64]store.Record{}
	var add []dns.Record
	_, _, err = s.edit(ctx, name, change{
		drop: func(r store.Record) bool {
			w, ok := byID[r.ID]
			if !ok || r.Value != w.Old {
				return false
			}
			found[r.ID] = r
			return true
		},
		lateAdd: func() ([]dns.Record, error) {
			if len(found) != len(byID) {
				return nil, apperr.New(apperr.Conflict, "zone %s changed while its records were being cut; nothing was changed, try again", name)
			}
			add = add[:0]
			for id, r := range found {
				w := byID[id]
				add = append(add, dns.Record{Name: r.Name, Type: r.Type, TTL: uint32(w.TTL), Data: w.New})
			}
			return add, nil
		},
	})
	if err != nil {
		return err
	}
	s.emit(ctx, api.Event{Kind: "zone.rewritten", Message: fmt.Sprintf("%d record(s) of zone %s rewritten: %s", len(rw), name, why)})
	return nil
}
