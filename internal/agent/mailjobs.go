package agent

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/agent/mail"
)

// Linked nodes, the agent's side: the mail.* jobs of distribution runs
// (internal/links), carried out through internal/agent/mail. A child
// records, at import, the link and token of each account distributed to
// it (DataDir/links.json) and refuses every later mail.* job about the
// account that does not carry them: requests about a distributed account
// come through the parent's distribution run only.

const mailPartSize = 32 << 20 // archive bytes per uploaded part (the object API takes 64 MiB)

type mailJobs struct {
	a     *Agent
	m     *mail.Mail
	ports api.MailPorts
	path  string // links.json
	mu    sync.Mutex
}

type linkRecord struct {
	Link  int64  `json:"link"`
	Token string `json:"token"`
}

// RegisterMail adds the mail.* job kinds, run through m. ports are where
// this member's Dovecot and Postfix listen (0: the defaults), reported to
// the server by mail.check so that a parent's proxy reaches them.
func (a *Agent) RegisterMail(m *mail.Mail, ports api.MailPorts) {
	j := &mailJobs{a: a, m: m, ports: ports, path: filepath.Join(a.cfg.DataDir, "links.json")}
	for kind, h := range map[string]func(context.Context, api.Job, func(string)) (any, error){
		api.KindMailExport: j.export, api.KindMailCheck: j.check, api.KindMailImport: j.importMail,
		api.KindMailPack: j.pack, api.KindMailUnpack: j.unpack, api.KindMailProxy: j.proxy,
		api.KindMailVerify: j.verify, api.KindMailKick: j.kick, api.KindMailRemove: j.remove,
	} {
		a.Register(kind, h)
	}
}

func (j *mailJobs) records() (map[string]linkRecord, error) {
	out := map[string]linkRecord{}
	b, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	return out, json.Unmarshal(b, &out)
}

func (j *mailJobs) saveRecords(rs map[string]linkRecord) error {
	b, _ := json.MarshalIndent(rs, "", "  ")
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, j.path)
}

// admit decodes a job's args and, on a child, checks them against what it
// recorded of the account.
func (j *mailJobs) admit(job api.Job, args any, mj *api.MailJob) error {
	if err := decodeArgs(job, args); err != nil {
		return err
	}
	if mj.Account == "" {
		return fmt.Errorf("%s: no account named", job.Kind)
	}
	if mj.Role != "child" {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	rs, err := j.records()
	if err != nil {
		return fmt.Errorf("read distribution records: %w", err)
	}
	rec, ok := rs[mj.Account]
	switch {
	case !ok && job.Kind == api.KindMailCheck:
		return nil
	case !ok && job.Kind == api.KindMailImport:
		rs[mj.Account] = linkRecord{Link: mj.Link, Token: mj.Token}
		return j.saveRecords(rs)
	case !ok:
		return fmt.Errorf("refused: account %s is not distributed to this member", mj.Account)
	case rec.Link != mj.Link || rec.Token != mj.Token:
		return fmt.Errorf("refused: account %s is distributed to this member by link %d; this request does not come through its parent's distribution run", mj.Account, rec.Link)
	}
	return nil
}

func toMail(in api.AccountMail) mail.AccountMail {
	out := mail.AccountMail{Account: in.Account, Domains: in.Domains, Filters: in.Filters}
	for _, u := range in.Users {
		out.Users = append(out.Users, mail.User{Name: u.Name, PasswordHash: u.PasswordHash, QuotaBytes: u.QuotaBytes})
	}
	for _, f := range in.Forwarders {
		out.Forwarders = append(out.Forwarders, mail.Forwarder{From: f.From, To: f.To})
	}
	return out
}

func fromMail(in mail.AccountMail) api.AccountMail {
	out := api.AccountMail{Account: in.Account, Domains: in.Domains, Filters: in.Filters}
	for _, u := range in.Users {
		out.Users = append(out.Users, api.MailUser{Name: u.Name, PasswordHash: u.PasswordHash, QuotaBytes: u.QuotaBytes})
	}
	for _, f := range in.Forwarders {
		out.Forwarders = append(out.Forwarders, api.MailForwarder{From: f.From, To: f.To})
	}
	return out
}

// walkMail calls fn for every regular file of the users' Maildirs, with
// its archive name "user/relative/path".
func (j *mailJobs) walkMail(users []string, fn func(name, path string, info fs.FileInfo) error) error {
	for _, u := range users {
		root := j.m.Maildir(u)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return fn(u+"/"+filepath.ToSlash(rel), p, info)
		})
		if err != nil {
			return fmt.Errorf("read the Maildir of %s: %w", u, err)
		}
	}
	return nil
}

func (j *mailJobs) export(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var mj api.MailJob
	if err := j.admit(job, &mj, &mj); err != nil {
		return nil, err
	}
	am, err := j.m.Export(ctx, mj.Account)
	if err != nil {
		return nil, err
	}
	res := api.MailExportResult{Mail: fromMail(am)}
	var users []string
	for _, u := range am.Users {
		users = append(users, u.Name)
	}
	err = j.walkMail(users, func(_, _ string, info fs.FileInfo) error {
		res.Messages++
		res.Bytes += info.Size()
		return nil
	})
	log(fmt.Sprintf("exported %d user(s), %d file(s), %d bytes", len(am.Users), res.Messages, res.Bytes))
	return res, err
}

func (j *mailJobs) check(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailCheckArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	res := api.MailCheckResult{Ports: &j.ports}
	res.Dovecot, res.Postfix = j.m.Services(ctx)
	res.Path = existingAncestor(j.m.Maildir("x@x"))
	room, ok, err := statRoom(res.Path)
	if err != nil {
		return nil, err
	}
	if ok {
		res.FreeBytes = room.freeBytes
	}
	log(fmt.Sprintf("dovecot=%v postfix=%v, %d bytes free at %s, %d needed", res.Dovecot, res.Postfix, res.FreeBytes, res.Path, args.NeedBytes))
	return res, nil
}

func (j *mailJobs) importMail(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailImportArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	if args.Mail.Account != args.Account {
		return nil, fmt.Errorf("import of %q carries the mail of %q", args.Account, args.Mail.Account)
	}
	if err := j.m.Import(ctx, toMail(args.Mail)); err != nil {
		return nil, err
	}
	log(fmt.Sprintf("imported %d user(s) of %s", len(args.Mail.Users), args.Account))
	return map[string]any{}, nil
}

func (j *mailJobs) pack(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailPackArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	var all []string
	if args.Skip != "" {
		b, err := j.a.srv.GetObject(ctx, args.Skip)
		if err != nil {
			return nil, fmt.Errorf("read the previous file list: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			skip[sc.Text()] = true
			all = append(all, sc.Text())
		}
	}
	var (
		res api.MailPackResult
		buf bytes.Buffer
		tw  = tar.NewWriter(&buf)
	)
	flush := func() error {
		if err := tw.Close(); err != nil {
			return err
		}
		sum := sha256.Sum256(buf.Bytes())
		key := fmt.Sprintf("%spart-%04d", args.Prefix, len(res.Parts))
		if err := j.a.srv.PutObject(ctx, key, buf.Bytes()); err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
		res.Parts = append(res.Parts, api.MailPart{Key: key, Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:])})
		log(fmt.Sprintf("uploaded %s (%d bytes)", key, buf.Len()))
		buf.Reset()
		tw = tar.NewWriter(&buf)
		return nil
	}
	err := j.walkMail(args.Users, func(name, path string, info fs.FileInfo) error {
		if skip[name] {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // moved (a flag changed) while packing: the next pass takes it
		}
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: info.ModTime()}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
		all = append(all, name)
		res.Messages++
		res.Bytes += int64(len(b))
		if buf.Len() >= mailPartSize {
			return flush()
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	res.Files = args.Prefix + "files"
	if err := j.a.srv.PutObject(ctx, res.Files, []byte(strings.Join(all, "\n")+"\n")); err != nil {
		return nil, fmt.Errorf("upload the file list: %w", err)
	}
	return res, nil
}

// target is where an archive name lands (below the user's Maildir root),
// refusing names that leave the user's Maildir.
func (j *mailJobs) target(name string) (root, path string, err error) {
	user, rel, ok := strings.Cut(name, "/")
	clean := filepath.Clean(filepath.FromSlash(rel))
	if ok && user != "" && !strings.Contains(user, "..") {
		root = j.m.Maildir(user)
	}
	if root == "" || filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("archive entry %q is outside a Maildir", name)
	}
	return root, filepath.Join(root, clean), nil
}

func (j *mailJobs) unpack(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailUnpackArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	var res api.MailUnpackResult
	for _, p := range args.Parts {
		b, err := j.a.srv.GetObject(ctx, p.Key)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", p.Key, err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != p.SHA256 || int64(len(b)) != p.Size {
			return nil, fmt.Errorf("part %s is damaged: its size or SHA-256 differs from what was uploaded", p.Key)
		}
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p.Key, err)
			}
			root, dst, err := j.target(h.Name)
			if err != nil {
				return nil, err
			}
			if _, err := os.Lstat(dst); err == nil {
				res.Existing++
				continue
			}
			if err := writeOwned(root, dst, tr); err != nil {
				return nil, err
			}
			res.Written++
			res.Bytes += h.Size
		}
		log(fmt.Sprintf("%s: verified, %d file(s) written so far", p.Key, res.Written))
	}
	return res, nil
}

// writeOwned writes a message file atomically below root (the user's
// Maildir, which the import created owned by the mail user): the file and
// every directory it needs below root get root's owner, so Dovecot and
// Postfix, running as the mail user, can read and move them.
func writeOwned(root, dst string, r io.Reader) error {
	uid, gid, owned := -1, -1, false
	if fi, err := os.Stat(root); err == nil {
		uid, gid, owned = fileOwner(fi)
	}
	rel, err := filepath.Rel(root, filepath.Dir(dst))
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is not under %s", dst, root)
	}
	dir := root
	if rel != "." {
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			dir = filepath.Join(dir, part)
			err := os.Mkdir(dir, 0o700)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err == nil && owned {
				err = os.Chown(dir, uid, gid)
			}
			if err != nil {
				return err
			}
		}
	}
	tmp := dst + ".poolctl-tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if owned {
		err = f.Chown(uid, gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

func (j *mailJobs) proxy(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailProxyArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	var p mail.Proxy
	for _, u := range args.Users {
		p.Users = append(p.Users, mail.ProxyUser{Name: u.Name, Host: u.Host, Port: u.Port, POP3Port: u.POP3Port})
	}
	for _, r := range args.Routes {
		p.Routes = append(p.Routes, mail.Route{Domain: r.Domain, NextHop: r.NextHop})
	}
	if err := j.m.ApplyProxy(ctx, p); err != nil {
		return nil, err
	}
	log(fmt.Sprintf("proxy applied: %d user(s), %d route(s)", len(p.Users), len(p.Routes)))
	for _, u := range args.Kick {
		if err := j.m.Kick(ctx, u); err != nil {
			log(fmt.Sprintf("kick %s: %v", u, err))
		}
	}
	return map[string]any{}, nil
}

func (j *mailJobs) verify(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailVerifyArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	var res api.MailVerifyResult
	for _, key := range args.Files {
		b, err := j.a.srv.GetObject(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read file list %s: %w", key, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if sc.Text() == "" {
				continue
			}
			res.Checked++
			_, dst, err := j.target(sc.Text())
			if err != nil {
				return nil, err
			}
			if _, err := os.Lstat(dst); err != nil && len(res.Missing) < 100 {
				res.Missing = append(res.Missing, sc.Text())
			}
		}
	}
	log(fmt.Sprintf("%d file(s) checked, %d missing", res.Checked, len(res.Missing)))
	return res, nil
}

func (j *mailJobs) kick(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailUsersArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	for _, u := range args.Users {
		if err := j.m.Kick(ctx, u); err != nil {
			return nil, err
		}
		log("kicked " + u)
	}
	return map[string]any{}, nil
}

func (j *mailJobs) remove(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args api.MailUsersArgs
	if err := j.admit(job, &args, &args.MailJob); err != nil {
		return nil, err
	}
	if err := j.m.Remove(ctx, args.Account); err != nil {
		return nil, err
	}
	log("removed the mail of " + args.Account)
	if args.Role == "child" {
		j.mu.Lock()
		defer j.mu.Unlock()
		rs, err := j.records()
		if err != nil {
			return nil, err
		}
		delete(rs, args.Account)
		if err := j.saveRecords(rs); err != nil {
			return nil, err
		}
	}
	return map[string]any{}, nil
}
