//go:build !unix

package agent

import "os"

// fileOwner has no owner to give off Unix: mail members are Unix systems,
// and files written there keep the agent's owner.
func fileOwner(os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
