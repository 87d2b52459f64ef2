package zones

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/store"
)

// ErrChanged is returned (with kind apperr.Conflict) by EditRecords when a
// record to remove is no longer in the zone: it changed since it was read.
var ErrChanged = errors.New("the zone changed since it was read")

// EditRecords changes a zone in one step (one serial, one journal entry,
// checked as a whole): it removes the records with the ids in remove and
// adds those of add (TTL 0: 3600). Records poolctl keeps itself (failover)
// are not removed: Conflict. An id no longer in the zone is a Conflict
// wrapping ErrChanged, and nothing is applied. It returns the records
// added.
func (s *Service) EditRecords(ctx context.Context, zone string, remove []int64, add []api.RecordCreate) ([]api.Record, error) {
	name, err := zoneName(zone)
	if err != nil {
		return nil, err
	}
	var adds []dns.Record
	for _, in := range add {
		if in.TTL < 0 {
			return nil, apperr.New(apperr.Invalid, "record %s %s: ttl %d must not be negative", in.Name, in.Type, in.TTL)
		}
		ttl := uint32(in.TTL)
		if ttl == 0 {
			ttl = 3600
		}
		if strings.TrimSpace(in.Name) == "" {
			return nil, apperr.New(apperr.Invalid, "record %s %s: name is empty (write @ for the zone's apex)", in.Type, in.Value)
		}
		adds = append(adds, dns.Record{Name: in.Name, Type: strings.ToUpper(in.Type), TTL: ttl, Data: in.Value})
	}
	if len(remove) == 0 && len(adds) == 0 {
		if _, err := s.st.GetZone(ctx, name); err != nil {
			return nil, err
		}
		return nil, nil
	}
	seen := map[int64]bool{}
	var managed *store.Record
	_, added, err := s.edit(ctx, name, change{
		drop: func(r store.Record) bool {
			if !slices.Contains(remove, r.ID) {
				return false
			}
			seen[r.ID] = true
			if r.Managed != "" && managed == nil {
				cp := r
				managed = &cp
			}
			return true
		},
		add: adds,
		lateAdd: func() ([]dns.Record, error) {
			// Called once drop has seen every record: refuse before the
			// zone is checked and written.
			if managed != nil {
				return nil, apperr.New(apperr.Conflict, "record %s %s %s is kept by poolctl (%s): change the failover record of its pool instead",
					managed.Name, managed.Type, managed.Value, managed.Managed)
			}
			for _, id := range remove {
				if !seen[id] {
					return nil, apperr.Wrap(apperr.Conflict, ErrChanged, "zone %s: record %d to remove is not there", name, id)
				}
			}
			return nil, nil
		},
	})
	if err != nil {
		return nil, err
	}
	out := make([]api.Record, 0, len(added))
	for _, r := range added {
		if r.Type != "SOA" {
			out = append(out, recordAPI(name, r))
		}
	}
	s.emit(ctx, api.Event{Kind: "records.changed", Message: fmt.Sprintf("zone %s: %d records removed, %d added", name, len(remove), len(out))})
	return out, nil
}
