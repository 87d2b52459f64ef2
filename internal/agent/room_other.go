//go:build !linux

package agent

func statRoomOS(path string) (fsRoom, bool, error) { return fsRoom{}, false, nil }
