package fleet

// LiveState is one member's health as this replica holds it in memory.
type LiveState struct {
	Pool, Member, Status string
}

// LiveStates lists every member's health from memory (no store read), in
// no particular order: cheap enough for every metrics scrape.
func (s *Service) LiveStates() []LiveState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LiveState, 0, len(s.live))
	for _, l := range s.live {
		out = append(out, LiveState{Pool: l.pool, Member: l.name, Status: l.status})
	}
	return out
}
