package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/google/uuid"
)

// MinKeyLen is the shortest HMAC key Resolve accepts, in bytes.
const MinKeyLen = 16

// Options configures Resolve. Only Key and App are required; the other
// fields replace platform lookups, for tests and for apps that keep their
// files elsewhere.
type Options struct {
	// App names the app's directory below os.UserConfigDir. Required unless
	// Dir is set.
	App string
	// Key is the app's secret HMAC key, at least MinKeyLen bytes. Keep it
	// fixed for the life of the app: a new key gives every user a new id.
	Key []byte
	// Dir is the directory of install.json. Default
	// os.UserConfigDir()/<App>.
	Dir string
	// MachineID returns the machine id and where it was read. It returns
	// ErrNoMachineID when the platform has none. Default: the platform's
	// lookup, MachineID.
	MachineID func() (id, source string, err error)
	// OSUser returns a stable id of the OS user. Default: the uid on Unix,
	// the SID on Windows.
	OSUser func() (string, error)
}

// Identity is the result of Resolve.
type Identity struct {
	// User is the pseudonymous user id: 32 lowercase hex digits.
	User string
	// InstallID is the install id of this machine in install.json.
	InstallID string
	// MachineIDSource is the file, command or registry value the machine id
	// was read from, and empty when the platform has none.
	MachineIDSource string
	// MachineIDError is set when the machine id could not be read although
	// the platform has one. Resolve then used the newest install id in
	// install.json, so the user id stays the same unless the profile moved
	// to another machine.
	MachineIDError error
	// NewInstall is set when Resolve created the install id.
	NewInstall bool
	// Cloned is set when install.json contained install ids of other machines
	// only: a cloned disk image, a restored backup or a roaming profile.
	Cloned bool
	// Path is the install file.
	Path string
}

// Resolve returns the user id of this machine, OS user and install. It
// creates the install file on first use and adds an entry to it on a
// machine it has not seen.
func Resolve(opts Options) (Identity, error) {
	if len(opts.Key) < MinKeyLen {
		return Identity{}, fmt.Errorf("identity key is %d bytes: set it to a secret of at least %d random bytes that stays fixed for the app", len(opts.Key), MinKeyLen)
	}
	if opts.Dir == "" {
		if opts.App == "" {
			return Identity{}, errors.New("identity App is empty: set it to the app's name, which names its config directory")
		}
		base, err := os.UserConfigDir()
		if err != nil {
			return Identity{}, fmt.Errorf("find the user's config directory: %w; set Dir", err)
		}
		opts.Dir = filepath.Join(base, opts.App)
	}
	if opts.MachineID == nil {
		opts.MachineID = MachineID
	}
	if opts.OSUser == nil {
		opts.OSUser = currentOSUser
	}

	var id Identity
	machine := ""
	raw, source, err := opts.MachineID()
	switch {
	case err == nil:
		machine = mac(opts.Key, "steward-machine-v1", raw)
		id.MachineIDSource = source
	case !errors.Is(err, ErrNoMachineID):
		id.MachineIDError = err
	}
	osUser, err := opts.OSUser()
	if err != nil {
		return Identity{}, fmt.Errorf("identify the OS user: %w", err)
	}

	inst, err := resolveInstall(opts.Dir, machine, id.MachineIDError != nil)
	if err != nil {
		return Identity{}, err
	}
	id.InstallID = inst.entry.InstallID
	id.NewInstall = inst.created
	id.Cloned = inst.cloned
	id.Path = inst.path
	// After a failed machine id lookup the entry's fingerprint replaces
	// the current one, so the user id does not change.
	id.User = mac(opts.Key, "steward-user-v1", inst.entry.Machine, osUser, id.InstallID)
	return id, nil
}

// mac returns the first 128 bits of HMAC-SHA256(key, parts joined by NUL)
// in hex.
func mac(key []byte, parts ...string) string {
	h := hmac.New(sha256.New, key)
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// currentOSUser returns "uid:<n>" on Unix and "sid:<SID>" on Windows, where
// os.Getuid returns -1.
func currentOSUser() (string, error) {
	if uid := os.Getuid(); uid >= 0 {
		return "uid:" + strconv.Itoa(uid), nil
	}
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	return "sid:" + u.Uid, nil
}

// NewSessionID returns a new session id: a UUIDv7, which sorts by creation
// time and is a valid NATS subject token.
func NewSessionID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("create session id: %w", err)
	}
	return u.String(), nil
}
