package main

import (
	"fmt"
	"time"
)

// report prints the figures the issue asks for: first replication in MB/s
// (raw bytes over wall time) for both tools and their ratio, the
// incremental run against its targets, and stored/raw.
func report(raw, changed int64, nchanged int, first, incr runResult, rs *resticResult) {
	stored := first.peakObjects
	storedNote := "object store when the snapshot ended"
	if stored < 0 {
		stored, storedNote = first.stats.BytesUploaded, "bytes uploaded (the object store was not seen at its peak)"
	}
	fmt.Printf("\n%-28s %14s %12s %12s\n", "first replication", "time", "MB/s", "stored/raw")
	fmt.Printf("%-28s %14v %12.1f %12.3f\n", "poolctl end to end", first.wall.Round(time.Millisecond), mbps(raw, first.wall), ratio(stored, raw))
	if rs != nil {
		both := rs.backup + rs.restore
		fmt.Printf("%-28s %14v %12.1f %12.3f\n", "restic backup+restore", both.Round(time.Millisecond), mbps(raw, both), ratio(rs.stored, raw))
		fmt.Printf("%-28s %14v %12.1f\n", "  restic backup", rs.backup.Round(time.Millisecond), mbps(raw, rs.backup))
		fmt.Printf("%-28s %14v %12.1f\n", "  restic restore", rs.restore.Round(time.Millisecond), mbps(raw, rs.restore))
	}
	st := first.stats
	fmt.Printf("%-28s %14v %12.1f\n", "  poolctl snapshot (agent)", ms(st.SnapshotMS), mbps(raw, ms(st.SnapshotMS)))
	fmt.Printf("%-28s %14v %12.1f\n", "  poolctl restore (agent)", ms(st.RestoreMS), mbps(raw, ms(st.RestoreMS)))
	fmt.Printf("%-28s %14v\n", "  poolctl engine and queue", (first.wall - ms(st.SnapshotMS) - ms(st.RestoreMS)).Round(time.Millisecond))
	if rs != nil {
		fmt.Printf("\nfirst replication: poolctl %.1f MB/s, restic %.1f MB/s: poolctl/restic speed %.2fx (target > 1)\n",
			mbps(raw, first.wall), mbps(raw, rs.backup+rs.restore), (rs.backup+rs.restore).Seconds()/first.wall.Seconds())
	}
	fmt.Printf("stored/raw: poolctl %.3f (%s)", ratio(stored, raw), storedNote)
	if rs != nil {
		fmt.Printf(", restic %.3f (repository)", ratio(rs.stored, raw))
	}
	fmt.Println(" (target <= 0.40)")
	is := incr.stats
	fmt.Printf("incremental after changing %d files (%.2f MiB): poolctl %v end to end (target <= 2 s; snapshot %v, restore %v), uploaded %.2f MiB = %.2fx the changed bytes (target <= 1.2)",
		nchanged, mib(changed), incr.wall.Round(time.Millisecond), ms(is.SnapshotMS), ms(is.RestoreMS), mib(is.BytesUploaded), ratio(is.BytesUploaded, changed))
	if rs != nil {
		fmt.Printf("; restic incremental backup %v (poolctl/restic time %.2f)", rs.incr.Round(time.Millisecond), incr.wall.Seconds()/rs.incr.Seconds())
	}
	fmt.Println()
	fmt.Printf("page caches dropped before each timed step: %v\n", first.dropped && incr.dropped && (rs == nil || rs.dropped && rs.incrDropped))
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
