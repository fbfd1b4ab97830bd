//go:build darwin

package identity

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// platformMachineID reads the hardware UUID through ioreg, which every
// macOS installation has.
// NOTE: this path is not run by the tests, which run on Linux; the parser
// of ioreg's output is tested on its own.
func platformMachineID() (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return "", "", fmt.Errorf("run ioreg for IOPlatformUUID: %w", err)
	}
	id, err := parseIOPlatformUUID(string(out))
	if err != nil {
		return "", "", err
	}
	return id, "ioreg IOPlatformUUID", nil
}
