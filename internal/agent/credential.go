package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// takeCredential switches the agent to a rotated credential the server sent
// in a heartbeat reply. It is saved first: an agent that cannot save it
// keeps the current one, which works until the new one is first used, and
// the server offers the new one again with every beat. Requests already
// under way keep the old one; the server accepts it for a short overlap.
func (a *Agent) takeCredential(token string) {
	a.stateMu.Lock()
	defer a.stateMu.Unlock()
	if token == a.state.Token {
		return
	}
	next := *a.state
	next.Token = token
	if err := writeState(a.cfg.DataDir, &next); err != nil {
		a.log.Error("cannot save the rotated agent credential; keeping the current one (the server offers the new one again with the next heartbeat)",
			"component", "agent", "err", err)
		return
	}
	a.state = &next
	a.srv.SetToken(token)
	a.log.Info("agent credential rotated and saved", "component", "agent", "file", filepath.Join(a.cfg.DataDir, StateFile))
}

// writeState replaces dir/agent.json with st atomically: a crash leaves the
// old file or the new one, never a mix.
func writeState(dir string, st *State) error {
	tmp, err := os.CreateTemp(dir, ".agent.json.*")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // fails harmlessly once renamed
	}()
	return writeStateTo(tmp, filepath.Join(dir, StateFile), st)
}

// writeStateTo writes st to tmp (mode 0600), syncs it and renames it to
// path, then syncs the directory so the rename survives a power cut.
func writeStateTo(tmp *os.File, path string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	b = append(b, '\n')
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
