//go:build linux

package identity

// platformMachineID reads the systemd machine id, or the D-Bus one on
// systems without systemd.
func platformMachineID() (string, string, error) {
	return readMachineIDFile("/etc/machine-id", "/var/lib/dbus/machine-id")
}
