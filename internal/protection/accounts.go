package protection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
)

// maxAccounts bounds what one agent may report.
const maxAccounts = 10000

// Accounts lists the accounts on a member (see apiserver.Protections).
func (s *Service) Accounts(ctx context.Context, pool, member string, refresh bool) (api.AccountList, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.AccountList{}, err
	}
	m, err := s.st.GetMember(ctx, p.ID, member)
	if err != nil {
		return api.AccountList{}, err
	}
	rows, err := s.st.Accounts(ctx, m.ID)
	if err != nil {
		return api.AccountList{}, err
	}
	out := api.AccountList{Items: []api.Account{}}
	if refresh || len(rows) == 0 || s.now().Sub(rows[0].DiscoveredAt) > DiscoveryMaxAge {
		fresh, derr := s.discover(ctx, m)
		if derr != nil {
			out.Stale, out.Error = true, derr.Error()
		} else {
			rows = fresh
		}
	}
	prs, err := s.st.ListProtections(ctx, p.ID)
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		var a api.Account
		if err := json.Unmarshal([]byte(r.Data), &a); err != nil {
			continue
		}
		at := r.DiscoveredAt
		a.Pool, a.Member, a.DiscoveredAt = pool, member, &at
		out.DiscoveredAt = &at
		for _, pr := range prs {
			if pr.Account == a.Name && pr.SourceID == m.ID {
				a.Protection, a.LastGoodAt = pr.ID, pr.GoodAt
				if pr.GoodAt != nil {
					secs := int64(s.now().Sub(*pr.GoodAt) / time.Second)
					a.RPOSeconds = &secs
				}
			}
		}
		out.Items = append(out.Items, a)
	}
	return out, nil
}

// discover asks a member's agent for its accounts and stores them.
func (s *Service) discover(ctx context.Context, m store.Member) ([]store.AccountRow, error) {
	mu, _ := s.discovering.LoadOrStore(m.ID, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if m.Status == api.StatusDown || m.Status == api.StatusPending {
		return nil, fmt.Errorf("member %s is %s; showing the accounts last discovered", m.Name, m.Status)
	}
	dctx, cancel := context.WithTimeout(ctx, discoveryWait)
	defer cancel()
	j, err := s.fl.RunInternal(dctx, m.ID, api.KindAccountList, struct{}{})
	if err != nil {
		return nil, fmt.Errorf("the agent of %s did not answer within %s; showing the accounts last discovered", m.Name, discoveryWait)
	}
	if j.Status != api.JobSucceeded {
		return nil, fmt.Errorf("account discovery on %s failed: %s", m.Name, j.Error)
	}
	var res api.AccountListResult
	if err := json.Unmarshal(j.Result, &res); err != nil {
		return nil, fmt.Errorf("account discovery on %s answered an unreadable result: %v", m.Name, err)
	}
	if len(res.Accounts) > maxAccounts {
		return nil, fmt.Errorf("member %s reported %d accounts; at most %d are kept", m.Name, len(res.Accounts), maxAccounts)
	}
	sort.Slice(res.Accounts, func(i, j int) bool { return res.Accounts[i].Name < res.Accounts[j].Name })
	now := s.now()
	rows := make([]store.AccountRow, 0, len(res.Accounts))
	seen := map[string]bool{}
	for _, a := range res.Accounts {
		if validAccount(a.Name) != nil || seen[a.Name] {
			s.log.Warn("agent reported an invalid or repeated account name; skipped", "member", m.Name, "account", a.Name)
			continue
		}
		seen[a.Name] = true
		a.Pool, a.Member, a.DiscoveredAt, a.Protection, a.LastGoodAt, a.RPOSeconds = "", "", nil, 0, nil, nil
		b, _ := json.Marshal(a)
		rows = append(rows, store.AccountRow{MemberID: m.ID, Name: a.Name, Data: string(b), DiscoveredAt: now})
	}
	if err := s.st.ReplaceAccounts(ctx, m.ID, rows, now); err != nil {
		return nil, err
	}
	return rows, nil
}

// objectProtection parses the protection id out of an object key or prefix
// "protections/{id}/...".
func objectProtection(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, "protections/")
	if !ok {
		return 0, false
	}
	idText, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == idText
}

// authTTL is how long AuthorizeObject trusts what it read of a protection:
// a run sends thousands of chunk requests, each authorized.
const authTTL = 10 * time.Second

// authEntry is a protection's members as AuthorizeObject last read them.
type authEntry struct {
	SourceID, StandbyID int64
	until               time.Time
}

// members returns protection id's source and standby, from a short-lived
// cache; a protection that does not exist is a Forbidden error.
func (s *Service) members(ctx context.Context, id int64) (authEntry, error) {
	if v, ok := s.auth.Load(id); ok && time.Now().Before(v.(authEntry).until) {
		return v.(authEntry), nil
	}
	pr, err := s.st.GetProtectionByID(ctx, id)
	if errors.Is(err, apperr.NotFound) {
		return authEntry{}, apperr.New(apperr.Forbidden, "protection %d does not exist", id)
	}
	if err != nil {
		return authEntry{}, err
	}
	e := authEntry{SourceID: pr.SourceID, StandbyID: pr.StandbyID, until: time.Now().Add(authTTL)}
	s.auth.Store(id, e)
	return e, nil
}

// AuthorizeObject lets a protection's source read and write its objects,
// and its standby read them.
func (s *Service) AuthorizeObject(ctx context.Context, a fleet.Agent, key string, write bool) error {
	id, ok := objectProtection(key)
	if !ok {
		return apperr.New(apperr.Forbidden, "agents may only use objects under protections/ID/")
	}
	pr, err := s.members(ctx, id)
	if err != nil {
		return err
	}
	if err := allowObject(pr, a, id, write); err != nil {
		// The cache may predate a reversal that swapped source and
		// standby (on any replica): a refusal is checked against the
		// store once more.
		s.auth.Delete(id)
		if pr, err = s.members(ctx, id); err != nil {
			return err
		}
		return allowObject(pr, a, id, write)
	}
	return nil
}

func allowObject(pr authEntry, a fleet.Agent, id int64, write bool) error {
	switch {
	case a.MemberID == pr.SourceID:
		return nil
	case a.MemberID == pr.StandbyID && !write:
		return nil
	case a.MemberID == pr.StandbyID:
		return apperr.New(apperr.Forbidden, "member %s is protection %d's standby: it may read its objects, not write them", a.Member, id)
	}
	return apperr.New(apperr.Forbidden, "member %s is neither the source nor the standby of protection %d", a.Member, id)
}

// ChunkKey answers the pool's chunk key to a protection's source or standby.
func (s *Service) ChunkKey(ctx context.Context, a fleet.Agent, protection int64) ([]byte, error) {
	pr, err := s.st.GetProtectionByID(ctx, protection)
	if errors.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.Forbidden, "protection %d does not exist", protection)
	}
	if err != nil {
		return nil, err
	}
	if a.MemberID != pr.SourceID && a.MemberID != pr.StandbyID {
		return nil, apperr.New(apperr.Forbidden, "member %s is neither the source nor the standby of protection %d", a.Member, protection)
	}
	k, err := s.poolKey(ctx, pr.PoolID)
	if err != nil {
		return nil, err
	}
	return k[:], nil
}
