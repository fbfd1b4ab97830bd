package identity_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stewardhq/steward/client/identity"
	"github.com/stewardhq/steward/internal/scope"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// machine returns a MachineID function for a fake machine.
func machine(id string) func() (string, string, error) {
	return func() (string, string, error) { return id, "test", nil }
}

func osUser(name string) func() (string, error) {
	return func() (string, error) { return name, nil }
}

func resolve(t *testing.T, opts identity.Options) identity.Identity {
	t.Helper()
	if opts.Key == nil {
		opts.Key = testKey
	}
	id, err := identity.Resolve(opts)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return id
}

func TestUserIDStableAcrossRuns(t *testing.T) {
	opts := identity.Options{Dir: t.TempDir(), MachineID: machine("m1"), OSUser: osUser("uid:1000")}
	first := resolve(t, opts)
	if !first.NewInstall || first.Cloned {
		t.Fatalf("first run: got NewInstall %v Cloned %v, want true false", first.NewInstall, first.Cloned)
	}
	second := resolve(t, opts)
	if second.User != first.User || second.InstallID != first.InstallID {
		t.Fatalf("second run: got user %s install %s, want %s %s", second.User, second.InstallID, first.User, first.InstallID)
	}
	if second.NewInstall {
		t.Fatalf("second run: got NewInstall true, want false")
	}
}

func TestUserIDDiffers(t *testing.T) {
	dir := t.TempDir()
	base := resolve(t, identity.Options{Dir: dir, MachineID: machine("m1"), OSUser: osUser("uid:1000")})
	tests := []struct {
		name string
		opts identity.Options
	}{
		{"other OS user", identity.Options{Dir: dir, MachineID: machine("m1"), OSUser: osUser("uid:1001")}},
		{"other install id", identity.Options{Dir: t.TempDir(), MachineID: machine("m1"), OSUser: osUser("uid:1000")}},
		{"other machine", identity.Options{Dir: t.TempDir(), MachineID: machine("m2"), OSUser: osUser("uid:1000")}},
		{"other key", identity.Options{Dir: dir, Key: []byte("another key of 16+ bytes"), MachineID: machine("m1"), OSUser: osUser("uid:1000")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(t, tt.opts)
			if got.User == base.User {
				t.Fatalf("user id: got %s for both, want different ids", got.User)
			}
		})
	}
}

// copyInstallFile copies install.json as a disk image or a roaming
// profile would carry it to another machine.
func copyInstallFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, "install.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "install.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestClonedInstallDetected(t *testing.T) {
	original := t.TempDir()
	a := resolve(t, identity.Options{Dir: original, MachineID: machine("machine-a"), OSUser: osUser("uid:1000")})

	clone := t.TempDir()
	copyInstallFile(t, original, clone)
	b := resolve(t, identity.Options{Dir: clone, MachineID: machine("machine-b"), OSUser: osUser("uid:1000")})
	if !b.Cloned || !b.NewInstall {
		t.Fatalf("clone: got Cloned %v NewInstall %v, want true true", b.Cloned, b.NewInstall)
	}
	if b.User == a.User || b.InstallID == a.InstallID {
		t.Fatalf("clone: got user %s install %s, the original's; want new ids", b.User, b.InstallID)
	}

	again := resolve(t, identity.Options{Dir: clone, MachineID: machine("machine-b"), OSUser: osUser("uid:1000")})
	if again.User != b.User || again.Cloned {
		t.Fatalf("clone's second run: got user %s Cloned %v, want %s false", again.User, again.Cloned, b.User)
	}
	// The profile roams back to the original machine: its id is unchanged.
	back := resolve(t, identity.Options{Dir: clone, MachineID: machine("machine-a"), OSUser: osUser("uid:1000")})
	if back.User != a.User || back.NewInstall {
		t.Fatalf("profile back on machine a: got user %s NewInstall %v, want %s false", back.User, back.NewInstall, a.User)
	}
}

func TestMachineIDUnreadableKeepsUser(t *testing.T) {
	dir := t.TempDir()
	first := resolve(t, identity.Options{Dir: dir, MachineID: machine("m1"), OSUser: osUser("uid:1000")})
	failing := func() (string, string, error) { return "", "", errors.New("ioreg timed out") }
	got := resolve(t, identity.Options{Dir: dir, MachineID: failing, OSUser: osUser("uid:1000")})
	if got.User != first.User {
		t.Fatalf("user id with an unreadable machine id: got %s, want %s", got.User, first.User)
	}
	if got.MachineIDError == nil {
		t.Fatalf("MachineIDError: got nil, want the lookup error")
	}
}

func TestNoMachineIDUsesInstallID(t *testing.T) {
	none := func() (string, string, error) { return "", "", identity.ErrNoMachineID }
	dir := t.TempDir()
	first := resolve(t, identity.Options{Dir: dir, MachineID: none, OSUser: osUser("uid:1000")})
	second := resolve(t, identity.Options{Dir: dir, MachineID: none, OSUser: osUser("uid:1000")})
	other := resolve(t, identity.Options{Dir: t.TempDir(), MachineID: none, OSUser: osUser("uid:1000")})
	if first.User != second.User {
		t.Fatalf("same install: got %s and %s, want one id", first.User, second.User)
	}
	if first.User == other.User {
		t.Fatalf("two installs: got %s for both, want different ids", first.User)
	}
	if first.MachineIDSource != "" || first.MachineIDError != nil {
		t.Fatalf("got source %q error %v, want neither", first.MachineIDSource, first.MachineIDError)
	}
}

func TestDamagedInstallFileReplaced(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "install.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := resolve(t, identity.Options{Dir: dir, MachineID: machine("m1"), OSUser: osUser("uid:1000")})
	if !got.NewInstall {
		t.Fatalf("NewInstall: got false, want true")
	}
	if _, err := os.Stat(filepath.Join(dir, "install.json.damaged")); err != nil {
		t.Fatalf("damaged file kept aside: %v", err)
	}
}

func TestShortKeyRejected(t *testing.T) {
	_, err := identity.Resolve(identity.Options{Dir: t.TempDir(), Key: []byte("short")})
	if err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Fatalf("Resolve with a 5-byte key: got %v, want an error naming the length", err)
	}
}

func TestIDsAreSubjectTokens(t *testing.T) {
	id := resolve(t, identity.Options{Dir: t.TempDir(), MachineID: machine("m1"), OSUser: osUser("uid:1000")})
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id.User) {
		t.Fatalf("user id %q: want 32 lowercase hex digits", id.User)
	}
	if _, err := scope.ParseUser(id.User); err != nil {
		t.Fatalf("ParseUser(%q): %v", id.User, err)
	}
	prev := ""
	for range 1000 {
		s, err := identity.NewSessionID()
		if err != nil {
			t.Fatalf("NewSessionID: %v", err)
		}
		if _, err := scope.ParseSession(s); err != nil {
			t.Fatalf("ParseSession(%q): %v", s, err)
		}
		if s <= prev {
			t.Fatalf("session ids out of order: got %s after %s, want increasing ids", s, prev)
		}
		prev = s
	}
}

func TestPlatformMachineID(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the machine id files are Linux's")
	}
	var want string
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "" {
			want = strings.TrimSpace(string(b))
			break
		}
	}
	id, source, err := identity.MachineID()
	if want == "" {
		if !errors.Is(err, identity.ErrNoMachineID) {
			t.Fatalf("MachineID without machine id files: got %v, want ErrNoMachineID", err)
		}
		return
	}
	if err != nil || id != want {
		t.Fatalf("MachineID: got %q from %s (err %v), want %q", id, source, err, want)
	}
}
