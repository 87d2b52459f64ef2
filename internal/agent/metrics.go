package agent

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"
)

// diskTimeout bounds one filesystem's statfs; a hung mount is skipped.
const diskTimeout = 2 * time.Second

// sampler measures the server for heartbeats. CPU usage is the share of
// non-idle time between two samples (cpu.Percent with a short interval reads
// 0 on some kernels, so it is not used).
type sampler struct {
	mu      sync.Mutex
	prevCPU *cpu.TimesStat
	stuck   map[string]bool // mounts whose statfs has not returned yet
}

func newSampler() *sampler {
	s := &sampler{stuck: map[string]bool{}}
	if t, err := cpu.Times(false); err == nil && len(t) > 0 {
		s.prevCPU = &t[0]
	}
	return s
}

// sample measures the server now. Parts that fail to read are left zero.
func (s *sampler) sample(ctx context.Context) api.Metrics {
	var m api.Metrics
	if up, err := host.UptimeWithContext(ctx); err == nil {
		m.UptimeSeconds = up
	}
	if l, err := load.AvgWithContext(ctx); err == nil {
		m.Load1, m.Load5, m.Load15 = l.Load1, l.Load5, l.Load15
	}
	if t, err := cpu.TimesWithContext(ctx, false); err == nil && len(t) > 0 {
		s.mu.Lock()
		if s.prevCPU != nil {
			m.CPUPercent = cpuPercent(*s.prevCPU, t[0])
		}
		s.prevCPU = &t[0]
		s.mu.Unlock()
	}
	if v, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		m.MemTotal, m.MemUsed, m.MemPercent = v.Total, v.Used, v.UsedPercent
	}
	m.Disks = s.disks(ctx)
	m.NetRxBytes, m.NetTxBytes = netBytes(ctx)
	return m
}

// cpuPercent is the busy share of CPU time between two samples, 0..100.
func cpuPercent(a, b cpu.TimesStat) float64 {
	// Guest time is already counted in user time on Linux.
	busy := func(t cpu.TimesStat) float64 {
		return t.User + t.System + t.Nice + t.Irq + t.Softirq + t.Steal
	}
	total := func(t cpu.TimesStat) float64 { return busy(t) + t.Idle + t.Iowait }
	dt := total(b) - total(a)
	if dt <= 0 {
		return 0
	}
	p := (busy(b) - busy(a)) / dt * 100
	return min(max(p, 0), 100)
}

// pseudoFS are filesystem types that hold no user data.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "tmpfs": true, "devtmpfs": true, "devpts": true,
	"cgroup": true, "cgroup2": true, "securityfs": true, "pstore": true, "debugfs": true,
	"tracefs": true, "configfs": true, "fusectl": true, "mqueue": true, "hugetlbfs": true,
	"bpf": true, "autofs": true, "binfmt_misc": true, "rpc_pipefs": true, "nsfs": true,
	"ramfs": true, "squashfs": true, "efivarfs": true, "selinuxfs": true, "overlay": true,
	"fuse.lxcfs": true, "fuse.gvfsd-fuse": true, "fuse.portal": true, "iso9660": true,
	"nfsd": true, "none": true,
}

// networkFS are skipped too: a hung server would hang statfs.
var networkFS = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "fuse.sshfs": true,
	"ceph": true, "glusterfs": true, "fuse.glusterfs": true, "9p": true,
}

// keepMount says whether a mounted filesystem is a real one worth reporting.
// An overlay is kept when it is the root (containers).
func keepMount(p disk.PartitionStat) bool {
	if p.Fstype == "overlay" && p.Mountpoint == "/" {
		return true
	}
	return !pseudoFS[p.Fstype] && !networkFS[p.Fstype]
}

// disks reports usage of every real filesystem, one entry per device (bind
// mounts of the same device are dropped, the shortest mount point kept).
func (s *sampler) disks(ctx context.Context) []api.DiskUsage {
	parts, err := disk.PartitionsWithContext(ctx, true)
	if err != nil {
		return nil
	}
	slices.SortStableFunc(parts, func(a, b disk.PartitionStat) int { return len(a.Mountpoint) - len(b.Mountpoint) })
	seen := map[string]bool{}
	var out []api.DiskUsage
	for _, p := range parts {
		if !keepMount(p) || seen[p.Device+"\x00"+p.Fstype] {
			continue
		}
		u, ok := s.usage(ctx, p.Mountpoint)
		if !ok || u.Total == 0 {
			continue
		}
		seen[p.Device+"\x00"+p.Fstype] = true
		out = append(out, api.DiskUsage{Mount: p.Mountpoint, FSType: p.Fstype, Total: u.Total, Used: u.Used, Percent: u.UsedPercent})
	}
	slices.SortFunc(out, func(a, b api.DiskUsage) int { return strings.Compare(a.Mount, b.Mount) })
	return out
}

// usage runs statfs with a timeout. A mount whose call has not returned is
// skipped until it does, so one hung filesystem costs one goroutine.
func (s *sampler) usage(ctx context.Context, mount string) (*disk.UsageStat, bool) {
	s.mu.Lock()
	if s.stuck[mount] {
		s.mu.Unlock()
		return nil, false
	}
	s.stuck[mount] = true
	s.mu.Unlock()
	type res struct {
		u   *disk.UsageStat
		err error
	}
	ch := make(chan res, 1)
	go func() {
		u, err := disk.UsageWithContext(ctx, mount)
		s.mu.Lock()
		delete(s.stuck, mount)
		s.mu.Unlock()
		ch <- res{u, err}
	}()
	t := time.NewTimer(diskTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.u, r.err == nil
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

// netBytes sums received and sent bytes over non-loopback interfaces.
func netBytes(ctx context.Context) (rx, tx uint64) {
	counters, err := psnet.IOCountersWithContext(ctx, true)
	if err != nil {
		return 0, 0
	}
	loop := map[string]bool{"lo": true}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback != 0 {
				loop[i.Name] = true
			}
		}
	}
	for _, c := range counters {
		if loop[c.Name] {
			continue
		}
		rx += c.BytesRecv
		tx += c.BytesSent
	}
	return rx, tx
}

// detectFacts reads the facts about this machine.
func detectFacts(ctx context.Context) (api.Facts, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := host.InfoWithContext(ctx)
	if err != nil {
		return api.Facts{}, fmt.Errorf("read host info: %w", err)
	}
	f := api.Facts{
		Hostname:    info.Hostname,
		OS:          info.OS,
		Platform:    info.Platform,
		PlatformVer: info.PlatformVersion,
		Kernel:      info.KernelVersion,
		Arch:        info.KernelArch,
		BootTime:    int64(info.BootTime),
	}
	if f.Arch == "" {
		f.Arch = runtime.GOARCH
	}
	if n, err := cpu.CountsWithContext(ctx, true); err == nil {
		f.CPUCount = n
	}
	if ci, err := cpu.InfoWithContext(ctx); err == nil && len(ci) > 0 {
		f.CPUModel = strings.TrimSpace(ci[0].ModelName)
	}
	if v, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		f.MemTotalBytes = v.Total
	}
	return f, nil
}
