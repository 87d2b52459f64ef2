// Package restic runs the restic command line against a local repository,
// the peer of the replication benchmarks.
package restic

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Repo is a local restic repository with its own cache directory, both
// below one work directory.
type Repo struct {
	Dir, Cache string
}

// New returns the repository work/restic-repo (cache work/restic-cache).
func New(work string) Repo {
	return Repo{Dir: filepath.Join(work, "restic-repo"), Cache: filepath.Join(work, "restic-cache")}
}

// Command returns `restic --repo DIR ARGS...` with its password and cache in
// the environment; its stderr goes to ours.
func (r Repo) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "restic", append([]string{"--repo", r.Dir}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=bench", "RESTIC_CACHE_DIR="+r.Cache)
	cmd.Stderr = os.Stderr
	return cmd
}

// Run runs one restic command.
func (r Repo) Run(ctx context.Context, args ...string) error {
	if err := r.Command(ctx, args...).Run(); err != nil {
		return fmt.Errorf("restic %v: %w", args, err)
	}
	return nil
}

// Version returns restic's version line.
func Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "restic", "version").Output()
	if err != nil {
		return "", fmt.Errorf("restic version: %w", err)
	}
	return string(out), nil
}
