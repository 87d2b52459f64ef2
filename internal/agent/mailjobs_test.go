package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/agent/mail"
)

// mailMember is an agent with the mail.* jobs over a mail root of its own
// (no Dovecot or Postfix: every command fails, as on a member without
// them), sharing fc's object store with the other members of a test.
type mailMember struct {
	a    *Agent
	root string
}

func newMailMember(t *testing.T, fc *fakeClient, name string) *mailMember {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mail")
	if err := os.Mkdir(root, 0o711); err != nil {
		t.Fatal(err)
	}
	m, err := mail.New(mail.Config{MailRoot: root, DovecotConf: "/nonexistent/dovecot.conf", PostfixDir: "/nonexistent/postfix",
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return nil, errors.New("not installed")
		}})
	if err != nil {
		t.Fatal(err)
	}
	st := &State{Server: "https://x:1", Token: "t", Pool: "web", Member: name}
	a := newAgent(Config{DataDir: t.TempDir()}, st, fc)
	a.RegisterMail(m, api.MailPorts{IMAP: 10143, SMTP: 10025})
	return &mailMember{a: a, root: root}
}

func (mm *mailMember) run(t *testing.T, kind string, args any) (any, error) {
	t.Helper()
	raw, _ := json.Marshal(args)
	h := mm.a.handlers[kind]
	if h == nil {
		t.Fatalf("no handler for %s", kind)
	}
	return h(context.Background(), api.Job{ID: 1, Kind: kind, Args: raw}, func(string) {})
}

var testAccount = api.AccountMail{Account: "alice", Domains: []string{"example.test"},
	Users: []api.MailUser{{Name: "info@example.test", PasswordHash: "{SHA512-CRYPT}$6$salt$hash"}}}

func TestMailJobsChildRefusesOutsideItsDistribution(t *testing.T) {
	fc := newFakeClient()
	child := newMailMember(t, fc, "mail1")
	job := api.MailJob{Link: 3, Run: 9, Token: "tok", Account: "alice", Role: "child"}

	res, err := child.run(t, api.KindMailCheck, api.MailCheckArgs{MailJob: job, NeedBytes: 1})
	if err != nil {
		t.Fatalf("check before import: %v", err)
	}
	if cr := res.(api.MailCheckResult); cr.Dovecot || cr.Postfix || cr.Ports == nil || cr.Ports.IMAP != 10143 || cr.Ports.SMTP != 10025 {
		t.Errorf("check: got %+v, want no services and the configured ports", cr)
	}
	if _, err := child.run(t, api.KindMailExport, job); err == nil || !strings.Contains(err.Error(), "not distributed to this member") {
		t.Errorf("export before import: got %v, want a refusal", err)
	}
	if _, err := child.run(t, api.KindMailImport, api.MailImportArgs{MailJob: job, Mail: testAccount}); err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, other := range []api.MailJob{
		{Link: 3, Run: 9, Token: "guess", Account: "alice", Role: "child"},
		{Link: 4, Run: 9, Token: "tok", Account: "alice", Role: "child"},
	} {
		_, err := child.run(t, api.KindMailRemove, api.MailUsersArgs{MailJob: other, Users: []string{"info@example.test"}})
		if err == nil || !strings.Contains(err.Error(), "does not come through its parent's distribution run") {
			t.Errorf("remove with link %d token %s: got %v, want a refusal", other.Link, other.Token, err)
		}
	}
	if _, err := os.Stat(filepath.Join(child.root, "example.test", "info", "Maildir", "cur")); err != nil {
		t.Fatalf("the refused removal touched the Maildir: %v", err)
	}
	if _, err := child.run(t, api.KindMailExport, job); err != nil {
		t.Errorf("export through the distribution: %v", err)
	}
	if _, err := child.run(t, api.KindMailRemove, api.MailUsersArgs{MailJob: job, Users: []string{"info@example.test"}}); err != nil {
		t.Fatalf("remove through the distribution: %v", err)
	}
	// The record went with the account: the next request is refused.
	if _, err := child.run(t, api.KindMailExport, job); err == nil || !strings.Contains(err.Error(), "not distributed") {
		t.Errorf("export after removal: got %v, want a refusal", err)
	}
}

// A Maildir goes from one member to another through pack and unpack, byte
// for byte; a second pass copies only what is new, and verify finds every
// file listed.
func TestMailJobsPackUnpackVerify(t *testing.T) {
	fc := newFakeClient()
	parent := newMailMember(t, fc, "node1")
	child := newMailMember(t, fc, "mail1")
	pj := api.MailJob{Link: 3, Run: 9, Token: "tok", Account: "alice", Role: "parent"}
	cj := pj
	cj.Role = "child"
	for _, mm := range []*mailMember{parent, child} {
		j := pj
		if mm == child {
			j = cj
		}
		if _, err := mm.run(t, api.KindMailImport, api.MailImportArgs{MailJob: j, Mail: testAccount}); err != nil {
			t.Fatalf("import: %v", err)
		}
	}
	md := func(mm *mailMember, rel string) string {
		return filepath.Join(mm.root, "example.test", "info", "Maildir", filepath.FromSlash(rel))
	}
	write := func(rel, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(md(parent, rel)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(md(parent, rel), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cur/1.a:2,S", "Subject: one\r\n\r\nfirst\r\n")
	write(".Sent/cur/2.b:2,S", "Subject: two\r\n\r\nsecond\r\n")
	users := []string{"info@example.test"}
	res, err := parent.run(t, api.KindMailPack, api.MailPackArgs{MailJob: pj, Users: users, Prefix: "links/runs/9/initial/"})
	if err != nil {
		t.Fatal(err)
	}
	initial := res.(api.MailPackResult)
	if initial.Messages != 2 || len(initial.Parts) != 1 {
		t.Fatalf("initial pack: got %+v, want 2 files in 1 part", initial)
	}
	if _, err := child.run(t, api.KindMailUnpack, api.MailUnpackArgs{MailJob: cj, Parts: initial.Parts}); err != nil {
		t.Fatal(err)
	}
	write("new/3.c", "Subject: three\r\n\r\narrived during the move\r\n")
	res, err = parent.run(t, api.KindMailPack, api.MailPackArgs{MailJob: pj, Users: users, Prefix: "links/runs/9/final/", Skip: initial.Files})
	if err != nil {
		t.Fatal(err)
	}
	final := res.(api.MailPackResult)
	if final.Messages != 1 {
		t.Fatalf("final pack: got %d files, want only the new one", final.Messages)
	}
	res, err = child.run(t, api.KindMailUnpack, api.MailUnpackArgs{MailJob: cj, Parts: final.Parts})
	if err != nil || res.(api.MailUnpackResult).Written != 1 {
		t.Fatalf("final unpack: got %+v, %v", res, err)
	}
	for _, rel := range []string{"cur/1.a:2,S", ".Sent/cur/2.b:2,S", "new/3.c"} {
		want, _ := os.ReadFile(md(parent, rel))
		got, err := os.ReadFile(md(child, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on the child: got %q (%v), want %q", rel, got, err, want)
		}
	}
	res, err = child.run(t, api.KindMailVerify, api.MailVerifyArgs{MailJob: cj, Files: []string{final.Files}})
	if vr := res.(api.MailVerifyResult); err != nil || vr.Checked != 3 || len(vr.Missing) != 0 {
		t.Fatalf("verify: got %+v, %v, want 3 checked, none missing", res, err)
	}
	if err := os.Remove(md(child, "new/3.c")); err != nil {
		t.Fatal(err)
	}
	res, _ = child.run(t, api.KindMailVerify, api.MailVerifyArgs{MailJob: cj, Files: []string{final.Files}})
	if vr := res.(api.MailVerifyResult); !slices.Equal(vr.Missing, []string{"info@example.test/new/3.c"}) {
		t.Errorf("verify after a loss: got %+v, want new/3.c missing", vr)
	}
	// A damaged part is refused before anything is written.
	bad := final.Parts[0]
	fc.objects[bad.Key] = append(fc.objects[bad.Key], 0)
	if _, err := child.run(t, api.KindMailUnpack, api.MailUnpackArgs{MailJob: cj, Parts: final.Parts}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("unpack of a damaged part: got %v, want a refusal", err)
	}
}

// An archive entry that would land outside the user's Maildir is refused.
func TestMailJobsUnpackRefusesEscapes(t *testing.T) {
	fc := newFakeClient()
	child := newMailMember(t, fc, "mail1")
	cj := api.MailJob{Link: 3, Run: 9, Token: "tok", Account: "alice", Role: "child"}
	if _, err := child.run(t, api.KindMailImport, api.MailImportArgs{MailJob: cj, Mail: testAccount}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"info@example.test/../../passwd", "info@example.test/..", "../x/cur/1", "nobody/cur/1", "info@example.test/"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: 1})
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		sum := sha256.Sum256(buf.Bytes())
		key := "links/runs/9/initial/part-0000"
		fc.objects[key] = buf.Bytes()
		part := api.MailPart{Key: key, Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:])}
		if _, err := child.run(t, api.KindMailUnpack, api.MailUnpackArgs{MailJob: cj, Parts: []api.MailPart{part}}); err == nil || !strings.Contains(err.Error(), "outside a Maildir") {
			t.Errorf("entry %q: got %v, want a refusal", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(child.root, "example.test", "passwd.poolctl-tmp")); err == nil {
		t.Errorf("a refused entry left a file behind")
	}
}
