package identity

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	installFile = "install.json"
	// maxInstalls bounds the machines install.json remembers; the oldest
	// entry goes first.
	maxInstalls = 16
)

// installs is the content of install.json.
type installs struct {
	Version  int       `json:"version"`
	Installs []install `json:"installs"`
}

// install is the install id created on one machine.
type install struct {
	// Machine is the machine fingerprint, empty on platforms without a
	// machine id.
	Machine   string    `json:"machine"`
	InstallID string    `json:"install_id"`
	CreatedAt time.Time `json:"created_at"`
}

type installResult struct {
	entry   install
	path    string
	created bool
	cloned  bool
}

// resolveInstall returns the install entry of machine in dir, creating it
// when missing. With machineUnknown set, the machine id could not be read,
// and the newest entry is used as long as there is one.
func resolveInstall(dir, machine string, machineUnknown bool) (installResult, error) {
	path := filepath.Join(dir, installFile)
	res := installResult{path: path}
	file, err := readInstalls(path)
	if err != nil {
		return res, err
	}
	if machineUnknown && len(file.Installs) > 0 {
		res.entry = slices.MaxFunc(file.Installs, func(a, b install) int { return a.CreatedAt.Compare(b.CreatedAt) })
		return res, nil
	}
	if i := slices.IndexFunc(file.Installs, func(e install) bool { return e.Machine == machine }); i >= 0 {
		res.entry = file.Installs[i]
		return res, nil
	}

	res.cloned = len(file.Installs) > 0
	res.created = true
	id, err := newInstallID()
	if err != nil {
		return res, err
	}
	file.Version = 1
	file.Installs = append(file.Installs, install{Machine: machine, InstallID: id, CreatedAt: time.Now().UTC()})
	if n := len(file.Installs); n > maxInstalls {
		slices.SortFunc(file.Installs, func(a, b install) int { return a.CreatedAt.Compare(b.CreatedAt) })
		file.Installs = file.Installs[n-maxInstalls:]
	}
	if err := writeInstalls(dir, path, file); err != nil {
		return res, err
	}
	// Two app instances starting at once on a new machine both create an
	// entry, and the last rename wins. Reading the file back makes this
	// instance use the winner's id whenever its own rename came first.
	// NOTE: an instance whose read comes before the other's rename keeps
	// its own id for this run only.
	again, err := readInstalls(path)
	if err != nil {
		return res, err
	}
	if i := slices.IndexFunc(again.Installs, func(e install) bool { return e.Machine == machine }); i >= 0 {
		res.entry = again.Installs[i]
		return res, nil
	}
	return res, fmt.Errorf("install file %s lost this machine's entry right after it was written; check that nothing else rewrites it", path)
}

// readInstalls reads install.json. A missing file reads as empty. A file
// that is not valid JSON is renamed to install.json.damaged and also reads
// as empty, because failing would keep the app from recording anything.
func readInstalls(path string) (installs, error) {
	var file installs
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return file, nil
	}
	if err != nil {
		return file, fmt.Errorf("read install file: %w", err)
	}
	if err := json.Unmarshal(b, &file); err != nil || file.Version != 1 {
		if err := os.Rename(path, path+".damaged"); err != nil {
			return file, fmt.Errorf("move damaged install file %s aside: %w", path, err)
		}
		return installs{}, nil
	}
	file.Installs = slices.DeleteFunc(file.Installs, func(e install) bool { return !validInstallID(e.InstallID) })
	return file, nil
}

// writeInstalls replaces install.json through a temporary file and a
// rename, so a crash leaves the old or the new file whole.
func writeInstalls(dir, path string, file installs) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return fmt.Errorf("encode install file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, installFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("write install file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write install file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync install file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write install file %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace install file %s: %w", path, err)
	}
	return nil
}

// newInstallID returns 128 random bits in hex.
func newInstallID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("create install id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func validInstallID(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 16
}
