package replication

import (
	"testing"

	"github.com/poolctl/poolctl/internal/replication/replicationtest"
)

func genTree(t testing.TB, root string, small int) []string {
	return replicationtest.GenTree(t, root, small)
}

func describe(t testing.TB, root string) map[string]replicationtest.NodeInfo {
	return replicationtest.Describe(t, root)
}

func compareTrees(t testing.TB, want, got string) { replicationtest.CompareTrees(t, want, got) }
