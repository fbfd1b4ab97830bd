package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const cursorFile = "cursor"

// readCursor returns the first unacknowledged sequence stored in dir, and 0
// when there is no cursor file. A damaged cursor also reads as 0: sending
// acknowledged messages again is safe, skipping unacknowledged ones is not.
func readCursor(dir string) (seq uint64, damaged bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read outbox cursor: %w", err)
	}
	seq, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, true, nil
	}
	return seq, false, nil
}

// writeCursor replaces the cursor file. The rename keeps the old or the
// new content whole; the file is not fsynced because a stale cursor only
// causes resends.
func writeCursor(dir string, seq uint64) error {
	tmp := filepath.Join(dir, cursorFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(seq, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write outbox cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, cursorFile)); err != nil {
		return fmt.Errorf("write outbox cursor: %w", err)
	}
	return nil
}
