//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package devstack

import (
	"fmt"
	"os"
)

// LockDir creates dir and returns an open file in it.
//
// NOTE: on this platform the directory is not locked, so two dev stacks
// started with the same -dir would share their data files.
func LockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return os.OpenFile(dir+string(os.PathSeparator)+"LOCK", os.O_CREATE|os.O_RDWR, 0o644)
}
