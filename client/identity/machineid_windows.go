//go:build windows

package identity

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// platformMachineID reads MachineGuid from the 64-bit registry view, which
// a 32-bit process would not see otherwise.
// NOTE: this path is compiled for Windows in the checks but not run by the
// tests, which run on Linux.
func platformMachineID() (string, string, error) {
	const path = `SOFTWARE\Microsoft\Cryptography`
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", "", fmt.Errorf("open registry key HKLM\\%s: %w", path, err)
	}
	defer k.Close()
	id, _, err := k.GetStringValue("MachineGuid")
	if errors.Is(err, registry.ErrNotExist) {
		return "", "", ErrNoMachineID
	}
	if err != nil {
		return "", "", fmt.Errorf("read registry value HKLM\\%s\\MachineGuid: %w", path, err)
	}
	return strings.ToLower(strings.TrimSpace(id)), `HKLM\` + path + `\MachineGuid`, nil
}
