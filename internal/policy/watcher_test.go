package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/policy"
)

// logRecorder collects the records of a JSON slog handler.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

// records returns the records logged with msg.
func (r *logRecorder) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()

	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(r.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("decode log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func newRecorder() (*logRecorder, *slog.Logger) {
	r := &logRecorder{}
	return r, slog.New(slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// winstonFile returns a valid policy file that keeps winston_logs for days.
func winstonFile(days string) string {
	return cleanup(`"retentionPeriods": {"winston_logs": ` + days + `}`)
}

func TestWatcherReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session-config.json")
	writeFile(t, path, winstonFile("90"))
	rec, logger := newRecorder()

	w, err := policy.NewWatcher(path, logger)
	if err != nil {
		t.Fatalf("NewWatcher: got %v, want no error", err)
	}
	if got, want := w.Current().Retention["winston_logs"], 90*day; got != want {
		t.Fatalf("first load: winston_logs: got %v, want %v", got, want)
	}

	// Each step writes the file (unless content is empty), calls Reload
	// and checks the policy in force afterwards.
	steps := []struct {
		name        string
		content     string
		wantChanged bool
		wantErr     string // substring; empty means no error
		wantWinston time.Duration
		wantErrLogs int // "policy reload failed" records so far
	}{
		{"unchanged file", "", false, "", 90 * day, 0},
		{"good edit", winstonFile("30"), true, "", 30 * day, 0},
		{"formatting only", "\n" + winstonFile("30.0") + "\n", false, "", 30 * day, 0},
		{"broken syntax", `{"sessionCleanup": {`, false, "invalid JSON", 30 * day, 1},
		{"still broken", "", false, "invalid JSON", 30 * day, 1},
		{"invalid value", winstonFile("-3"), false, "sessionCleanup.retentionPeriods.winston_logs: got -3", 30 * day, 2},
		{"fixed edit", winstonFile("7"), true, "", 7 * day, 2},
		{"unchanged after fix", "", false, "", 7 * day, 2},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.content != "" {
				writeFile(t, path, step.content)
			}
			changed, err := w.Reload()

			if changed != step.wantChanged {
				t.Errorf("Reload: changed: got %v, want %v", changed, step.wantChanged)
			}
			switch {
			case step.wantErr == "" && err != nil:
				t.Errorf("Reload: got %v, want no error", err)
			case step.wantErr != "" && (err == nil || !strings.Contains(err.Error(), step.wantErr)):
				t.Errorf("Reload: got error %v, want one containing %q", err, step.wantErr)
			case step.wantErr != "" && !errors.Is(err, policy.ErrInvalid):
				t.Errorf("errors.Is(%v, ErrInvalid): got false, want true", err)
			}
			if got := w.Current().Retention["winston_logs"]; got != step.wantWinston {
				t.Errorf("Current: winston_logs: got %v, want %v", got, step.wantWinston)
			}
			if got := len(rec.records(t, "policy reload failed, keeping the last good policy")); got != step.wantErrLogs {
				t.Errorf("error records: got %d, want %d", got, step.wantErrLogs)
			}
		})
	}

	// The first load, the good edit and the fixed edit each log once.
	loaded := rec.records(t, "policy loaded")
	if got, want := len(loaded), 3; got != want {
		t.Fatalf(`"policy loaded" records: got %d, want %d`, got, want)
	}
	last := loaded[len(loaded)-1]
	if got, want := last["path"], path; got != want {
		t.Errorf(`"policy loaded" path: got %v, want %v`, got, want)
	}
	if got, want := last["version"], w.Current().Version; got != want {
		t.Errorf(`"policy loaded" version: got %v, want %v`, got, want)
	}
	if got, want := last["types"], []any{"winston_logs"}; !equalJSON(got, want) {
		t.Errorf(`"policy loaded" types: got %v, want %v`, got, want)
	}

	failed := rec.records(t, "policy reload failed, keeping the last good policy")
	for _, r := range failed {
		if r["level"] != "ERROR" || r["path"] != path || r["err"] == nil {
			t.Errorf("error record: got %v, want level ERROR with path %q and err", r, path)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestWatcherFormattingKeepsPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session-config.json")
	writeFile(t, path, designFile)
	w, err := policy.NewWatcher(path, nil)
	if err != nil {
		t.Fatalf("NewWatcher: got %v, want no error", err)
	}
	before := w.Current()

	writeFile(t, path, `{"sessionCleanup":{"cleanupInterval":24,"retentionPeriods":{"winston_logs":90,"generated_scripts":45,"codegen_recordings":60,"testcase_generator":30}}}`)
	changed, err := w.Reload()
	if err != nil {
		t.Fatalf("Reload: got %v, want no error", err)
	}
	if changed {
		t.Errorf("Reload after reformatting: changed: got true, want false")
	}
	if w.Current() != before {
		t.Errorf("Current after reformatting: got a new *Policy, want the same one")
	}
}

func TestWatcherRemovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session-config.json")
	writeFile(t, path, winstonFile("30"))
	rec, logger := newRecorder()
	w, err := policy.NewWatcher(path, logger)
	if err != nil {
		t.Fatalf("NewWatcher: got %v, want no error", err)
	}
	version := w.Current().Version

	if err := os.Remove(path); err != nil {
		t.Fatalf("remove %s: %v", path, err)
	}
	for range 2 {
		if _, err := w.Reload(); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Reload of a removed file: got %v, want os.ErrNotExist", err)
		}
	}
	if got := w.Current().Version; got != version {
		t.Fatalf("Current after removal: version: got %q, want the last good %q", got, version)
	}
	if got := len(rec.records(t, "policy reload failed, keeping the last good policy")); got != 1 {
		t.Fatalf("error records for two failed reloads: got %d, want 1", got)
	}

	writeFile(t, path, winstonFile("30"))
	changed, err := w.Reload()
	if err != nil || changed {
		t.Fatalf("Reload of the restored file: got %v, %v, want false, nil", changed, err)
	}
	if got := len(rec.records(t, "policy loaded")); got != 2 {
		t.Fatalf(`"policy loaded" records after recovery: got %d, want 2`, got)
	}
}

func TestWatcherWarnsOncePerContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session-config.json")
	writeFile(t, path, `{"theme": "dark", "sessionCleanup": {"colour": "red"}}`)
	rec, logger := newRecorder()
	w, err := policy.NewWatcher(path, logger)
	if err != nil {
		t.Fatalf("NewWatcher: got %v, want no error", err)
	}
	for range 3 {
		if _, err := w.Reload(); err != nil {
			t.Fatalf("Reload: got %v, want no error", err)
		}
	}

	warned := rec.records(t, "unknown policy key ignored")
	var keys []string
	for _, r := range warned {
		if r["level"] != "WARN" {
			t.Errorf("warning record: level: got %v, want WARN", r["level"])
		}
		keys = append(keys, r["key"].(string))
	}
	if got, want := strings.Join(keys, ","), "theme,sessionCleanup.colour"; got != want {
		t.Fatalf("warned keys after three reloads: got %s, want %s", got, want)
	}
}

func TestWatcherDefault(t *testing.T) {
	w, err := policy.NewWatcher("", nil)
	if err != nil {
		t.Fatalf("NewWatcher: got %v, want no error", err)
	}
	if got, want := w.Current().Version, policy.Default().Version; got != want {
		t.Errorf("Current: version: got %q, want the default %q", got, want)
	}
	if got := w.Current().Source; got != policy.DefaultSource {
		t.Errorf("Current: source: got %q, want %q", got, policy.DefaultSource)
	}
	changed, err := w.Reload()
	if changed || err != nil {
		t.Errorf("Reload: got %v, %v, want false, nil", changed, err)
	}
}

func TestNewWatcherFirstLoadFails(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.json")
	writeFile(t, invalid, winstonFile("0"))

	tests := []struct {
		name string
		path string
		want string
	}{
		{"missing file", filepath.Join(dir, "missing.json"), "no such file"},
		{"invalid file", invalid, "sessionCleanup.retentionPeriods.winston_logs: got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := policy.NewWatcher(tt.path, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewWatcher: got error %v, want one containing %q", err, tt.want)
			}
			if w != nil {
				t.Fatalf("NewWatcher: got a watcher with the error, want nil")
			}
		})
	}
}

func TestWatcherRunStopsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session-config.json")
	writeFile(t, path, designFile)

	for _, p := range []string{path, ""} {
		w, err := policy.NewWatcher(p, nil)
		if err != nil {
			t.Fatalf("NewWatcher(%q): got %v, want no error", p, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// Run must return because the context is already cancelled. If it
		// hung, the test would fail by its timeout.
		w.Run(ctx, 0)
	}
}

func TestWatcherConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session-config.json")
	writeFile(t, path, winstonFile("1"))
	w, err := policy.NewWatcher(path, nil)
	if err != nil {
		t.Fatalf("NewWatcher: got %v, want no error", err)
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if p := w.Current(); p == nil || len(p.Retention) != 1 {
					t.Errorf("Current: got %+v, want a policy with one type", p)
					return
				}
			}
		})
	}
	for i := range 20 {
		writeFile(t, path, winstonFile(strconv.Itoa(1+i%9)))
		if _, err := w.Reload(); err != nil {
			t.Errorf("Reload: got %v, want no error", err)
		}
	}
	wg.Wait()
}
