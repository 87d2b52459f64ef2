package dnssec

import (
	"fmt"
	"slices"
	"time"
)

// Rollover steps. A ZSK pre-publish rollover (RFC 6781 section 4.1.1.1)
// goes StepPublished → StepSigning → done; a KSK double-signature rollover
// (section 4.1.2) goes StepPublished → StepDSSwap → done.
const (
	// StepPublished: the new key is in the DNSKEY RRset (a new KSK also
	// signs it, beside the old one); waiting for caches to hold the new
	// DNSKEY RRset (its TTL plus propagation).
	StepPublished = "published"
	// StepSigning (ZSK): the new ZSK signs, the old one stays published
	// until the signatures it made have left caches (the zone's largest
	// TTL plus propagation).
	StepSigning = "signing"
	// StepDSSwap (KSK): CDS/CDNSKEY name the new KSK; waiting for the
	// parent to replace the DS and for the old DS to leave caches (the
	// parent's DS TTL plus propagation).
	StepDSSwap = "ds-swap"
	// StepDone: the old key is gone.
	StepDone = "done"
)

// Rollover is the state of one key rollover of a zone.
type Rollover struct {
	Role      string // RoleZSK or RoleKSK
	Step      string
	OldTag    uint16
	NewTag    uint16
	StartedAt time.Time
	NextAt    time.Time // when the next step is due
}

// Timing is what a rollover's waits are computed from.
type Timing struct {
	DNSKEYTTL   time.Duration // the TTL of the DNSKEY RRset
	MaxTTL      time.Duration // the largest TTL in the zone, negative answers included
	ParentDSTTL time.Duration // the TTL of the DS RRset at the parent
	Propagation time.Duration // how long a change takes to reach every nameserver
	// Fixed, when positive, replaces every wait (tests).
	Fixed time.Duration
}

func (t Timing) wait(ttl time.Duration) time.Duration {
	if t.Fixed > 0 {
		return t.Fixed
	}
	return ttl + t.Propagation
}

func findTag(keys []Key, tag uint16) int {
	return slices.IndexFunc(keys, func(k Key) bool { t, err := Tag(k); return err == nil && t == tag })
}

func tags(keys []Key) []uint16 {
	var out []uint16
	for _, k := range keys {
		if t, err := Tag(k); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// StartRollover begins a rollover of the zone's signing key of role: a new
// key is generated and published. It returns the new key set and state.
func StartRollover(role string, keys []Key, now time.Time, t Timing) ([]Key, Rollover, error) {
	var old []int
	for i, k := range keys {
		if k.Role == role && k.Sign {
			old = append(old, i)
		}
	}
	if role != RoleKSK && role != RoleZSK {
		return nil, Rollover{}, fmt.Errorf("key %q: want %s or %s", role, RoleZSK, RoleKSK)
	}
	if len(old) != 1 {
		return nil, Rollover{}, fmt.Errorf("a %s rollover needs exactly one signing %s, the zone has %d", role, role, len(old))
	}
	nk, err := GenerateKey(role, tags(keys))
	if err != nil {
		return nil, Rollover{}, err
	}
	nk.Publish = true
	nk.Sign = role == RoleKSK // double signature: both KSKs sign the DNSKEY RRset
	oldTag, _ := Tag(keys[old[0]])
	newTag, _ := Tag(nk)
	out := append(slices.Clone(keys), nk)
	r := Rollover{Role: role, Step: StepPublished, OldTag: oldTag, NewTag: newTag, StartedAt: now,
		NextAt: now.Add(t.wait(t.DNSKEYTTL))}
	return out, r, nil
}

// Advance moves r one step on when that step is due at now. It returns the
// new key set, the new state (Step StepDone when finished) and whether
// anything changed.
func Advance(r Rollover, keys []Key, now time.Time, t Timing) ([]Key, Rollover, bool, error) {
	if r.Step == StepDone || now.Before(r.NextAt) {
		return keys, r, false, nil
	}
	oi, ni := findTag(keys, r.OldTag), findTag(keys, r.NewTag)
	if ni < 0 {
		return keys, r, false, fmt.Errorf("%s rollover: the new key %d is gone", r.Role, r.NewTag)
	}
	out := slices.Clone(keys)
	switch {
	case r.Role == RoleZSK && r.Step == StepPublished:
		out[ni].Sign = true
		if oi >= 0 {
			out[oi].Sign = false
		}
		r.Step, r.NextAt = StepSigning, now.Add(t.wait(t.MaxTTL))
	case r.Role == RoleKSK && r.Step == StepPublished:
		out[ni].DS = true
		if oi >= 0 {
			out[oi].DS = false
		}
		r.Step, r.NextAt = StepDSSwap, now.Add(t.wait(t.ParentDSTTL))
	case r.Step == StepSigning || r.Step == StepDSSwap:
		if oi >= 0 {
			out = slices.Delete(out, oi, oi+1)
		}
		r.Step, r.NextAt = StepDone, now
	default:
		return keys, r, false, fmt.Errorf("%s rollover: unknown step %q", r.Role, r.Step)
	}
	return out, r, true, nil
}

// Describe says in words where r stands.
func (r Rollover) Describe() string {
	switch r.Step {
	case StepPublished:
		if r.Role == RoleKSK {
			return fmt.Sprintf("new KSK %d published, both KSKs sign the DNSKEY set; CDS/CDNSKEY switch to it at %s", r.NewTag, r.NextAt.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("new ZSK %d published; it starts signing at %s", r.NewTag, r.NextAt.UTC().Format(time.RFC3339))
	case StepSigning:
		return fmt.Sprintf("ZSK %d signs; the old ZSK %d is withdrawn at %s", r.NewTag, r.OldTag, r.NextAt.UTC().Format(time.RFC3339))
	case StepDSSwap:
		return fmt.Sprintf("CDS/CDNSKEY name KSK %d: give the registrar its DS; the old KSK %d is withdrawn at %s", r.NewTag, r.OldTag, r.NextAt.UTC().Format(time.RFC3339))
	case StepDone:
		return fmt.Sprintf("%s rollover done: %d replaced %d", r.Role, r.NewTag, r.OldTag)
	}
	return r.Step
}
