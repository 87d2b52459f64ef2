package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Installed is an agent service file found on the machine.
type Installed struct {
	Init Init
	Path string
	// Bin and DataDir are what the file says it runs; "" when it does
	// not say (it was not written by Install).
	Bin, DataDir string
}

// Find returns the agent service files on the machine.
func (h Host) Find() []Installed {
	var out []Installed
	for _, p := range []string{SystemdUnit, InitScript} {
		b, err := os.ReadFile(h.path(p))
		if err != nil {
			continue
		}
		in := Installed{Init: Systemd, Path: p}
		if p == InitScript {
			in.Init = SysV
			if bytes.HasPrefix(b, []byte("#!/sbin/openrc-run")) {
				in.Init = OpenRC
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "# poolctl-agent-bin: "); ok {
				in.Bin = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "# poolctl-agent-data: "); ok {
				in.DataDir = strings.TrimSpace(v)
			}
		}
		out = append(out, in)
	}
	return out
}

// UninstallOptions says what Uninstall removes besides the service.
type UninstallOptions struct {
	// Purge also removes the data directory (with the agent's credential),
	// the log file, and the binary when it is InstalledBinary.
	Purge bool
	// DataDir is the data directory to purge; "": the one the service
	// file names, else DefaultDataDir.
	DataDir string
	// Exe is the running executable, purged when no service file names
	// the binary.
	Exe string
}

// Uninstall stops and disables the agent service and removes its file,
// then purges when asked. It is idempotent: with nothing installed it
// says so and succeeds.
func (h Host) Uninstall(ctx context.Context, o UninstallOptions) error {
	found := h.Find()
	if len(found) == 0 {
		h.say("%s is not installed (no %s, no %s)", Name, SystemdUnit, InitScript)
	}
	data, bin := o.DataDir, o.Exe
	for _, in := range found {
		if err := h.remove(ctx, in); err != nil {
			return err
		}
		if data == "" {
			data = in.DataDir
		}
		if in.Bin != "" {
			bin = in.Bin
		}
	}
	if !o.Purge {
		return nil
	}
	if data == "" {
		data = DefaultDataDir
	}
	if err := h.purgeData(data); err != nil {
		return err
	}
	if err := h.removeFile(LogFile); err != nil {
		return err
	}
	return h.purgeBinary(bin)
}

// remove stops and disables one service and removes its file.
func (h Host) remove(ctx context.Context, in Installed) error {
	switch in.Init {
	case Systemd:
		ctl := h.find("systemctl")
		running := ctl != "" && h.exists("/run/systemd/system")
		if running {
			if err := h.run(ctx, ctl, "disable", "--now", Name); err != nil {
				return fmt.Errorf("stop %s: %w", Name, err)
			}
		} else if err := h.removeFile("/etc/systemd/system/multi-user.target.wants/" + Name + ".service"); err != nil {
			return err
		}
		if err := h.removeFile(in.Path); err != nil {
			return err
		}
		if running {
			h.warn(h.run(ctx, ctl, "daemon-reload"))
		}
		return nil
	case OpenRC:
		if rs := h.find("rc-service"); rs != "" {
			if err := h.run(ctx, rs, Name, "stop"); err != nil {
				return fmt.Errorf("stop %s: %w", Name, err)
			}
		}
		if ru := h.find("rc-update"); ru != "" {
			h.warn(h.run(ctx, ru, "del", Name, "default"))
		}
		return h.removeFile(in.Path)
	}
	if err := h.run(ctx, in.Path, "stop"); err != nil {
		return fmt.Errorf("stop %s: %w", Name, err)
	}
	switch {
	case h.find("update-rc.d") != "":
		h.warn(h.run(ctx, h.find("update-rc.d"), "-f", Name, "remove"))
	case h.find("chkconfig") != "":
		h.warn(h.run(ctx, h.find("chkconfig"), "--del", Name))
	}
	return h.removeFile(in.Path)
}

// warn reports a step that failed without stopping the uninstall.
func (h Host) warn(err error) {
	if err != nil {
		h.say("warning: %v", err)
	}
}

// removeFile removes a file if it is there and says so.
func (h Host) removeFile(p string) error {
	err := os.Remove(h.path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	h.say("removed %s", p)
	return nil
}

// purgeData removes the agent's data directory, but only one that holds
// an agent.json or nothing: --data pointing elsewhere by mistake must not
// cost a directory.
func (h Host) purgeData(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) == "/" {
		return fmt.Errorf("purge: data directory %q: want an absolute path below /", dir)
	}
	entries, err := os.ReadDir(h.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		h.say("no data directory %s", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("purge %s: %w", dir, err)
	}
	if len(entries) > 0 && !h.exists(filepath.Join(dir, stateFile)) {
		h.say("left %s: it holds no %s, so it is not an agent's data directory", dir, stateFile)
		return nil
	}
	if err := os.RemoveAll(h.path(dir)); err != nil {
		return fmt.Errorf("purge %s: %w", dir, err)
	}
	h.say("removed %s (the agent's credential and state)", dir)
	return nil
}

// purgeBinary removes bin when it is the copy install.sh installed, with
// what a self-update leaves beside it.
func (h Host) purgeBinary(bin string) error {
	if bin == "" {
		return nil
	}
	if bin != InstalledBinary {
		h.say("left %s: only %s, where install.sh puts it, is removed", bin, InstalledBinary)
		return nil
	}
	for _, p := range []string{bin, filepath.Join(filepath.Dir(bin), "poolctl.prev"), bin + ".new"} {
		if err := h.removeFile(p); err != nil {
			return err
		}
	}
	return nil
}
