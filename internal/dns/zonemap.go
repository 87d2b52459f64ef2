package dns

// zoneShards is how many shards a zoneMap has.
const zoneShards = 256

// zoneMap maps canonical zone names to zones. It is immutable once
// published in a snapshot: with and without return a new map that shares
// every shard but the ones they change, so that a change to one zone costs
// a copy of one shard (about n/256 entries), and loading n zones one after
// another costs O(n²/256) instead of O(n²).
type zoneMap struct {
	shards *[zoneShards]map[string]*zoneData
}

// shardOf is the FNV-1a hash of name, reduced to a shard.
func shardOf[S ~string | ~[]byte](name S) int {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return int(h % zoneShards)
}

// get returns the zone named name (canonical), or nil.
func (m zoneMap) get(name string) *zoneData {
	if m.shards == nil {
		return nil
	}
	return m.shards[shardOf(name)][name]
}

// getBytes is get for a name held as bytes, without a conversion that
// allocates.
func (m zoneMap) getBytes(name []byte) *zoneData {
	if m.shards == nil {
		return nil
	}
	return m.shards[shardOf(name)][string(name)]
}

// each calls fn for every zone, in no order.
func (m zoneMap) each(fn func(name string, zd *zoneData)) {
	if m.shards == nil {
		return
	}
	for _, sh := range m.shards {
		for k, v := range sh {
			fn(k, v)
		}
	}
}

// edit returns a copy of m in which the shards named in touched are fresh
// copies that fn may change.
func (m zoneMap) edit(touched map[int]bool, fn func(shards *[zoneShards]map[string]*zoneData)) zoneMap {
	next := new([zoneShards]map[string]*zoneData)
	if m.shards != nil {
		*next = *m.shards
	}
	for i := range touched {
		cp := make(map[string]*zoneData, len(next[i])+1)
		for k, v := range next[i] {
			cp[k] = v
		}
		next[i] = cp
	}
	fn(next)
	return zoneMap{shards: next}
}

// with returns m with every zd added or replaced.
func (m zoneMap) with(zds ...*zoneData) zoneMap {
	touched := map[int]bool{}
	for _, zd := range zds {
		touched[shardOf(zd.name)] = true
	}
	return m.edit(touched, func(sh *[zoneShards]map[string]*zoneData) {
		for _, zd := range zds {
			sh[shardOf(zd.name)][zd.name] = zd
		}
	})
}

// without returns m without the zone name.
func (m zoneMap) without(name string) zoneMap {
	i := shardOf(name)
	if m.get(name) == nil {
		return m
	}
	return m.edit(map[int]bool{i: true}, func(sh *[zoneShards]map[string]*zoneData) {
		delete(sh[i], name)
	})
}
