//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package devstack_test

import (
	"strings"
	"testing"

	"github.com/stewardhq/steward/internal/devstack"
)

func TestLockDirRejectsSecondUser(t *testing.T) {
	dir := t.TempDir()
	first, err := devstack.LockDir(dir)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	_, err = devstack.LockDir(dir)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second lock while held: got %v, want an in-use error", err)
	}
	first.Close()
	again, err := devstack.LockDir(dir)
	if err != nil {
		t.Fatalf("lock after release: got %v, want success", err)
	}
	again.Close()
}
