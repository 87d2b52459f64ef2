package agent

import (
	"testing"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
)

func TestMetricsSanity(t *testing.T) {
	s := newSampler()
	s.sample(t.Context())
	// Burn a little CPU so the second sample has something to measure.
	x := 0
	for i := range 20_000_000 {
		x += i % 7
	}
	_ = x
	m := s.sample(t.Context())
	if m.CPUPercent < 0 || m.CPUPercent > 100 {
		t.Errorf("CPU = %v%%, want 0..100", m.CPUPercent)
	}
	if m.MemTotal == 0 || m.MemUsed == 0 || m.MemUsed > m.MemTotal {
		t.Errorf("memory used %d of %d, want 0 < used <= total", m.MemUsed, m.MemTotal)
	}
	if m.UptimeSeconds == 0 {
		t.Error("uptime is 0")
	}
	if len(m.Disks) == 0 {
		t.Fatal("no disk reported")
	}
	seen := map[string]bool{}
	for _, d := range m.Disks {
		if d.Total == 0 || d.Used > d.Total || d.Percent < 0 || d.Percent > 100 {
			t.Errorf("disk %+v: want 0 <= used <= total > 0", d)
		}
		if pseudoFS[d.FSType] && !(d.FSType == "overlay" && d.Mount == "/") {
			t.Errorf("pseudo filesystem reported: %+v", d)
		}
		if seen[d.Mount] {
			t.Errorf("mount %s reported twice", d.Mount)
		}
		seen[d.Mount] = true
	}
}

func TestCPUPercent(t *testing.T) {
	a := cpu.TimesStat{User: 100, System: 50, Idle: 800, Iowait: 50}
	tests := []struct {
		name string
		b    cpu.TimesStat
		want float64
	}{
		{"half busy", cpu.TimesStat{User: 130, System: 70, Idle: 840, Iowait: 60}, 50},
		{"idle", cpu.TimesStat{User: 100, System: 50, Idle: 900, Iowait: 50}, 0},
		{"busy", cpu.TimesStat{User: 200, System: 50, Idle: 800, Iowait: 50}, 100},
		{"no time passed", a, 0},
		{"counter went back", cpu.TimesStat{User: 10, Idle: 10}, 0},
	}
	for _, tt := range tests {
		if got := cpuPercent(a, tt.b); got != tt.want {
			t.Errorf("%s: cpuPercent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKeepMount(t *testing.T) {
	tests := []struct {
		p    disk.PartitionStat
		want bool
	}{
		{disk.PartitionStat{Mountpoint: "/", Fstype: "ext4"}, true},
		{disk.PartitionStat{Mountpoint: "/home", Fstype: "xfs"}, true},
		{disk.PartitionStat{Mountpoint: "/", Fstype: "overlay"}, true},
		{disk.PartitionStat{Mountpoint: "/var/lib/docker/overlay2/x/merged", Fstype: "overlay"}, false},
		{disk.PartitionStat{Mountpoint: "/proc", Fstype: "proc"}, false},
		{disk.PartitionStat{Mountpoint: "/dev/shm", Fstype: "tmpfs"}, false},
		{disk.PartitionStat{Mountpoint: "/sys/fs/cgroup", Fstype: "cgroup2"}, false},
		{disk.PartitionStat{Mountpoint: "/mnt/backup", Fstype: "nfs4"}, false},
	}
	for _, tt := range tests {
		if got := keepMount(tt.p); got != tt.want {
			t.Errorf("keepMount(%s %s) = %t, want %t", tt.p.Fstype, tt.p.Mountpoint, got, tt.want)
		}
	}
}
