package identity

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNoMachineID means the platform has no machine id, or the machine's
// id was never initialized.
var ErrNoMachineID = errors.New("no machine id on this platform")

// MachineID returns the machine id of this machine and where it was read.
// The raw id must not leave the machine; Resolve only uses its HMAC.
func MachineID() (id, source string, err error) {
	return platformMachineID()
}

// readMachineIDFile returns the machine id in the first of paths that
// contains one. A missing or empty file, or the "uninitialized" placeholder
// that systemd writes into images, is skipped.
func readMachineIDFile(paths ...string) (id, source string, err error) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("read machine id: %w", err)
		}
		id := strings.ToLower(strings.TrimSpace(string(b)))
		if id == "" || id == "uninitialized" {
			continue
		}
		return id, p, nil
	}
	return "", "", ErrNoMachineID
}

// parseIOPlatformUUID finds the IOPlatformUUID line in the output of
// `ioreg -rd1 -c IOPlatformExpertDevice`, which reads
//
//	"IOPlatformUUID" = "9F2A1B3C-...."
func parseIOPlatformUUID(out string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.TrimSpace(key) != `"IOPlatformUUID"` {
			continue
		}
		id := strings.Trim(strings.TrimSpace(value), `"`)
		if id == "" {
			break
		}
		return strings.ToLower(id), nil
	}
	return "", ErrNoMachineID
}
