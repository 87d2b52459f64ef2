package agent

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/accounts"

	"golang.org/x/sys/unix"
)

// fakeProvider is an accounts.Provider whose homes are directories under
// a temporary directory and whose "databases" are dump files: DumpDatabases
// writes dumps[db] as db.sql, RestoreDatabases records what it was given.
type fakeProvider struct {
	homes string
	mu    sync.Mutex
	accts map[string]api.Account
	dumps map[string]string
	// loaded is what the last RestoreDatabases found in its directory.
	loaded   map[string]string
	prepared int
}

var _ accounts.Provider = (*fakeProvider)(nil)

func newFakeProvider(t *testing.T) *fakeProvider {
	return &fakeProvider{homes: filepath.Join(t.TempDir(), "home"), accts: map[string]api.Account{}, dumps: map[string]string{}}
}

func (p *fakeProvider) Name() string { return api.ProviderLinux }

func (p *fakeProvider) List(ctx context.Context) ([]api.Account, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []api.Account
	for _, a := range p.accts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b api.Account) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (p *fakeProvider) Get(ctx context.Context, name string) (api.Account, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.accts[name]
	if !ok {
		return api.Account{}, fmt.Errorf("account %q: %w", name, accounts.ErrNoAccount)
	}
	return a, nil
}

func (p *fakeProvider) Home(name string) string { return filepath.Join(p.homes, name) }

func (p *fakeProvider) DumpDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (int, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, db := range acct.Databases {
		if err := os.WriteFile(filepath.Join(dir, db+".sql"), []byte(p.dumps[db]), 0o600); err != nil {
			return 0, 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "users.sql"), []byte("CREATE USER 'alice_u';\n"), 0o600); err != nil {
		return 0, 0, err
	}
	log("dumped (fake)")
	return len(acct.Databases), 1, nil
}

func (p *fakeProvider) RestoreDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (int, int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	got := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, 0, err
		}
		got[e.Name()] = string(b)
	}
	p.mu.Lock()
	p.loaded = got
	p.mu.Unlock()
	return len(got) - 1, 1, nil
}

func (p *fakeProvider) Prepare(ctx context.Context, acct api.Account) error {
	p.mu.Lock()
	p.prepared++
	p.mu.Unlock()
	return os.MkdirAll(p.homes, 0o755)
}

// genAccount writes an account's home: small files (text and random) in
// nested directories, a Maildir, a 6 MiB file, symlinks (relative,
// absolute, dangling), hard links, odd modes, an owner and old mtimes. It
// returns the relative paths of the small files.
func genAccount(t *testing.T, root string, small int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	for i := range small {
		rel := filepath.Join("public_html", fmt.Sprintf("d%d", i%7), fmt.Sprintf("f%03d.php", i))
		must(os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755))
		must(os.WriteFile(filepath.Join(root, rel), smallFile(rng, i, 0), 0o644))
		files = append(files, rel)
	}
	for _, d := range []string{"mail/cur", "mail/new", "mail/tmp"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o700))
	}
	for i := range 5 {
		must(os.WriteFile(filepath.Join(root, "mail/cur", fmt.Sprintf("17000000%02d.M1P1.host:2,S", i)),
			[]byte(fmt.Sprintf("From: a@example.com\nSubject: %d\n\nbody %d\n", i, i)), 0o600))
	}
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o640))
	must(os.Symlink("big.bin", filepath.Join(root, "link-big")))
	must(os.Symlink("/etc/hostname", filepath.Join(root, "link-abs")))
	must(os.Symlink("no/such/file", filepath.Join(root, "link-dangling")))
	must(os.Link(filepath.Join(root, files[0]), filepath.Join(root, "hard-a")))
	must(os.Link(filepath.Join(root, files[0]), filepath.Join(root, "mail", "hard-b")))
	must(os.WriteFile(filepath.Join(root, "setuid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(filepath.Join(root, "setuid"), 0o4755))
	must(os.WriteFile(filepath.Join(root, "secret"), []byte("s3cr3t"), 0o600))
	must(os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	must(os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	must(os.WriteFile(filepath.Join(root, "empty"), nil, 0o644))
	must(os.Mkdir(filepath.Join(root, "readonly"), 0o755))
	must(os.WriteFile(filepath.Join(root, "readonly", "inside"), []byte("ro"), 0o400))
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(root, files[1]), 1234, 5678))
		must(os.Lchown(filepath.Join(root, "mail"), 1234, 5678))
	}
	old := time.Date(2021, 2, 3, 4, 5, 6, 789, time.UTC)
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		must(err)
		ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
	must(os.Chmod(filepath.Join(root, "readonly"), 0o500))
	return files
}

// smallFile is the content of small file i in its version v.
func smallFile(rng *rand.Rand, i, v int) []byte {
	n := 200 + rng.IntN(12<<10)
	var buf bytes.Buffer
	for buf.Len() < n {
		fmt.Fprintf(&buf, "<?php echo \"file %d version %d line %d\"; ?>\n", i, v, buf.Len())
	}
	return buf.Bytes()
}

// DatabaseBytes is the size of the account's dumps.
func (p *fakeProvider) DatabaseBytes(ctx context.Context, acct api.Account) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, db := range acct.Databases {
		n += int64(len(p.dumps[db]))
	}
	return n, nil
}
