//go:build !unix

package agent

import (
	"errors"
	"os"
	"time"
)

var errNoSelfUpdate = errors.New("agent self-update needs a Unix system")

func execSelf(path string, argv, env []string) error { return errNoSelfUpdate }

func startDetached(path string, argv []string, out *os.File) (int, error) {
	return 0, errNoSelfUpdate
}

func processAlive(pid int) bool { return false }

func stopProcess(pid int, grace time.Duration) {}
