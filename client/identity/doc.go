// Package identity derives the ids a desktop app publishes under: a stable
// pseudonymous user id per machine, OS user and install, and a new session
// id per app start.
//
// # User id
//
// The user id is the first 128 bits, in lowercase hex, of
//
//	HMAC-SHA256(key, "steward-user-v1" 0x00 machine 0x00 osuser 0x00 install)
//
// where key is a secret fixed per app and install is the install id
// described below. machine is the machine fingerprint, the hex of
// HMAC-SHA256(key, "steward-machine-v1" 0x00 machineid), and empty when the
// platform has no machine id. osuser is "uid:<n>" on Unix and "sid:<SID>"
// on Windows.
// Only the HMAC leaves the machine, never the machine id; a server that
// has the ids cannot recompute them without the app's key.
//
// The machine id is read from /etc/machine-id or /var/lib/dbus/machine-id
// on Linux, from IOPlatformUUID (ioreg -rd1 -c IOPlatformExpertDevice) on
// macOS, and from the registry value
// HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid on Windows. Other
// platforms have none, and the install id alone distinguishes installs.
//
// # Install id and cloned machines
//
// The install id is 128 random bits, created on first use and kept in
// install.json in the app's directory of os.UserConfigDir. The file maps
// each machine fingerprint it has seen to the install id created on that
// machine. When Resolve finds no entry for the current machine, the file
// came from another machine, by a cloned disk image, a restored backup or a
// roaming profile. Resolve then creates a new install id for this machine,
// adds it to the file and reports Cloned. A clone therefore never shares the
// user id of its original, as long as the clone's machine id differs;
// systemd creates a new /etc/machine-id on first boot when the image ships
// it empty, and VM clones get a new IOPlatformUUID. Keeping one entry per
// machine also lets a roaming profile move back and forth between machines
// without changing the user id on either.
//
// NOTE: a clone whose machine id equals the original's (an image made
// without emptying /etc/machine-id, or a Windows image whose MachineGuid was
// not regenerated) and that also carries the user's config directory cannot
// be told apart from the original, and shares its user id. Prepare images
// so that the machine id is regenerated, or delete install.json in them.
package identity
