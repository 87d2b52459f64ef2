package mail

import (
	"bufio"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ssha512 is a Dovecot {SSHA512} hash of password.
func ssha512(password string) string {
	salt := make([]byte, 8)
	rand.Read(salt)
	sum := sha512.Sum512(append([]byte(password), salt...))
	return "{SSHA512}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// imapClient is the little IMAP the tests and the benchmark need.
type imapClient struct {
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func dialIMAP(addr string) (*imapClient, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	ic := &imapClient{c: c, r: bufio.NewReader(c)}
	greet, err := ic.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greet, "* OK") {
		c.Close()
		return nil, fmt.Errorf("imap greeting %q: %v", greet, err)
	}
	return ic, nil
}

func (ic *imapClient) Close() error { return ic.c.Close() }

// cmd sends one command and returns the untagged lines and literals of its
// answer; a tagged NO or BAD is an error.
func (ic *imapClient) cmd(format string, args ...any) ([]string, error) {
	ic.tag++
	tag := "a" + strconv.Itoa(ic.tag)
	if _, err := fmt.Fprintf(ic.c, tag+" "+format+"\r\n", args...); err != nil {
		return nil, err
	}
	var lines []string
	for {
		line, err := ic.r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		// A literal {N} follows its line.
		if i := strings.LastIndex(line, "{"); i >= 0 && strings.HasSuffix(line, "}") {
			if n, err := strconv.Atoi(line[i+1 : len(line)-1]); err == nil {
				buf := make([]byte, n)
				if _, err := io.ReadFull(ic.r, buf); err != nil {
					return lines, err
				}
				line += "\n" + string(buf)
				rest, err := ic.r.ReadString('\n')
				if err != nil {
					return lines, err
				}
				line += strings.TrimRight(rest, "\r\n")
			}
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				return lines, fmt.Errorf("imap %s: %s", strings.Fields(format)[0], rest)
			}
			return lines, nil
		}
		lines = append(lines, line)
	}
}

// session logs in, selects INBOX, fetches every message's Subject header,
// and returns the subjects.
func imapSubjects(addr, user, pass string) ([]string, error) {
	ic, err := dialIMAP(addr)
	if err != nil {
		return nil, err
	}
	defer ic.Close()
	if _, err := ic.cmd("LOGIN %s %s", user, pass); err != nil {
		return nil, err
	}
	lines, err := ic.cmd("SELECT INBOX")
	if err != nil {
		return nil, err
	}
	exists := -1
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[2] == "EXISTS" {
			exists, _ = strconv.Atoi(f[1])
		}
	}
	if exists == 0 {
		return nil, nil
	}
	lines, err = ic.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	if err != nil {
		return nil, err
	}
	var subjects []string
	for _, l := range lines {
		for _, h := range strings.Split(l, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(h), "Subject: "); ok {
				subjects = append(subjects, strings.TrimSpace(s))
			}
		}
	}
	ic.cmd("LOGOUT")
	return subjects, nil
}

// pop3Count logs in over POP3 and returns the message count STAT gives.
func pop3Count(addr, user, pass string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	var last string
	for _, cmd := range []string{"", "USER " + user, "PASS " + pass, "STAT"} {
		if cmd != "" {
			fmt.Fprintf(c, "%s\r\n", cmd)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if !strings.HasPrefix(line, "+OK") {
			return 0, fmt.Errorf("pop3 %q: %s", strings.Fields(cmd + " x")[0], strings.TrimSpace(line))
		}
		last = line
	}
	fmt.Fprintf(c, "QUIT\r\n")
	f := strings.Fields(last)
	if len(f) < 2 {
		return 0, fmt.Errorf("pop3 STAT %q", last)
	}
	return strconv.Atoi(f[1])
}

// putMessage writes a message with subject into a Maildir's new/, owned by
// uid:gid as the mail user's would be.
func putMessage(maildir, subject string, uid, gid int) error {
	name := fmt.Sprintf("%d.M%dP%d.poolctl-test", time.Now().Unix(), time.Now().UnixNano()%1e6, os.Getpid())
	path := filepath.Join(maildir, "new", name)
	body := "From: bob@elsewhere.test\r\nTo: alice@example.test\r\nSubject: " + subject + "\r\n\r\nhello " + subject + "\r\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return err
	}
	return os.Chown(path, uid, gid)
}

// countMaildir counts the messages in a Maildir's new/ and cur/.
func countMaildir(maildir string) int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(maildir, sub))
		n += len(ents)
	}
	return n
}
