//go:build !(linux || darwin || windows)

package identity

// platformMachineID reports that this platform has no machine id that
// Resolve reads, so the install id alone distinguishes installs.
func platformMachineID() (string, string, error) {
	return "", "", ErrNoMachineID
}
