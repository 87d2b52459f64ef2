//go:build !unix

package agent

import "os/exec"

// killGroup is a no-op where process groups do not exist; the context still
// kills the shell itself.
func killGroup(*exec.Cmd) {}
