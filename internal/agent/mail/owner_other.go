//go:build !unix

package mail

import (
	"errors"
	"os"
)

func statOwner(fi os.FileInfo) (uid, gid int, err error) {
	return 0, 0, errors.New("mail: generic mail members are Unix systems")
}
