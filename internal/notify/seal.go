package notify

import (
	"fmt"

	"github.com/poolctl/poolctl/internal/sealbox"
)

// sealer seals channel secrets at rest with the master key, each bound to
// its channel's name so that a sealed secret cannot be moved to another
// channel.
type sealer struct{ box *sealbox.Box }

func newSealer(key [32]byte) (sealer, error) { return sealer{sealbox.New(key)}, nil }

func secretAAD(channel string) string { return "poolctl notify channel secret v1 " + channel }

func (s sealer) seal(channel, secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	return s.box.Seal([]byte(secret), secretAAD(channel))
}

func (s sealer) open(channel, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	out, err := s.box.Open(sealed, secretAAD(channel))
	if err != nil {
		return "", fmt.Errorf("the stored secret of channel %s %w", channel, err)
	}
	return string(out), nil
}
