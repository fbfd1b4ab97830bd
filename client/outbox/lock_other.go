//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package outbox

import "os"

// NOTE: on this platform the directory is not locked, so two processes
// that open the same outbox directory corrupt it.
func lockFile(*os.File) error { return nil }

func syncDir(string) error { return nil }
