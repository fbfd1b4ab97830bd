package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/testenv"
)

func TestParseFlags(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		args     []string
		wantErr  string // substring; empty means valid
		wantOnce bool
		wantDry  bool
		wantAsOf time.Time
	}{
		{"worker", nil, "", false, false, time.Time{}},
		{"once", []string{"-once"}, "", true, false, time.Time{}},
		{"dry run", []string{"-once", "-dry-run"}, "", true, true, time.Time{}},
		{"as-of date", []string{"-once", "-as-of", "2026-02-01"}, "", true, false, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"as-of time with zone", []string{"-once", "-as-of", "2026-02-01T10:00:00+02:00"}, "", true, false, time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)},
		{"future dry run", []string{"-once", "-dry-run", "-as-of", "2026-06-01"}, "", true, true, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"future real run", []string{"-once", "-as-of", "2026-06-01"}, "in the future", false, false, time.Time{}},
		{"invalid as-of", []string{"-once", "-as-of", "June"}, "want an RFC 3339 time", false, false, time.Time{}},
		{"dry run without once", []string{"-dry-run"}, "apply only to -once", false, false, time.Time{}},
		{"argument", []string{"-once", "extra"}, "unexpected argument", false, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := parseFlags(tt.args, io.Discard, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q): got error %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): got %v, want no error", tt.args, err)
			}
			if opts.once != tt.wantOnce || opts.dryRun != tt.wantDry || !opts.asOf.Equal(tt.wantAsOf) {
				t.Errorf("parseFlags(%q): got once %v dry-run %v as-of %v, want %v %v %v",
					tt.args, opts.once, opts.dryRun, opts.asOf, tt.wantOnce, tt.wantDry, tt.wantAsOf)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	if _, err := parseFlags([]string{"-h"}, io.Discard, time.Now()); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags(-h): got %v, want flag.ErrHelp", err)
	}
}

// syncBuffer is a bytes.Buffer that a running program and the test may use
// at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setEnv points the STEWARD_* variables at the test's servers.
func setEnv(t *testing.T, m *testenv.Mongo, natsURL string) {
	t.Helper()
	t.Setenv("STEWARD_MONGODB_URI", m.Config.URI)
	t.Setenv("STEWARD_MONGODB_DATABASE", m.Config.Database)
	t.Setenv("STEWARD_NATS_URL", natsURL)
	t.Setenv("STEWARD_LOG_FORMAT", "json")
	t.Setenv("STEWARD_LOG_LEVEL", "info")
	t.Setenv("STEWARD_POLICY_FILE", "")
}

func TestOnce(t *testing.T) {
	m := testenv.StartMongo(t)
	setEnv(t, m, "nats://127.0.0.1:1")
	st := m.Store(t)
	if err := st.EnsureDataCollection(context.Background(), "winston_logs"); err != nil {
		t.Fatalf("ensure collection: %v", err)
	}
	now := time.Now().UTC()
	_, err := st.Database().Collection("winston_logs").InsertMany(context.Background(), []any{
		bson.D{{Key: "_id", Value: "alice:old"}, {Key: "user_id", Value: "alice"}, {Key: "session_id", Value: "s1"}, {Key: store.FieldReceivedAt, Value: now.Add(-100 * 24 * time.Hour)}},
		bson.D{{Key: "_id", Value: "alice:new"}, {Key: "user_id", Value: "alice"}, {Key: "session_id", Value: "s1"}, {Key: store.FieldReceivedAt, Value: now.Add(-time.Hour)}},
	})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}

	tests := []struct {
		name     string
		args     []string
		wantRows []string
		wantLeft int64
	}{
		{"dry run", []string{"-once", "-dry-run"}, []string{"WOULD DELETE", "winston_logs", "TOTAL"}, 2},
		{"future dry run", []string{"-once", "-dry-run", "-as-of", now.Add(90 * 24 * time.Hour).Format(time.RFC3339)}, []string{"Dry run as of"}, 2},
		{"real run", []string{"-once"}, []string{"DELETED", "winston_logs", "TOTAL"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 0 {
				t.Fatalf("reaper %v: exit code %d, want 0; stderr:\n%s", tt.args, code, stderr.String())
			}
			for _, want := range tt.wantRows {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("reaper %v output: got\n%s\nwant it to contain %q", tt.args, stdout.String(), want)
				}
			}
			n, err := st.Database().Collection("winston_logs").CountDocuments(context.Background(), bson.D{})
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			if n != tt.wantLeft {
				t.Errorf("documents left: got %d, want %d", n, tt.wantLeft)
			}
		})
	}
}

func TestOnceStoreUnreachable(t *testing.T) {
	m := testenv.StartMongo(t)
	setEnv(t, m, "nats://127.0.0.1:1")
	t.Setenv("STEWARD_MONGODB_TIMEOUT", "1s")
	m.Stop()

	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"-once"}, &stdout, &stderr); code != 1 {
		t.Fatalf("reaper -once with the store down: exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "STEWARD_MONGODB_URI") {
		t.Errorf("stderr: got\n%s\nwant it to name STEWARD_MONGODB_URI", stderr.String())
	}
}

func TestWorkerStopsCleanly(t *testing.T) {
	m := testenv.StartMongo(t)
	n := testenv.NATS(t)
	setEnv(t, m, n.URL())
	t.Setenv("STEWARD_TICKS_STREAM", "TICKS")

	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, &stdout, &stderr) }()
	testenv.Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(stderr.String(), `"msg":"reaper started"`)
	}, "the worker did not start; stderr:\n%s", &stderr)
	if !strings.Contains(stderr.String(), `"msg":"Session cleanup scheduled every 24 hours"`) {
		t.Errorf("stderr: got\n%s\nwant the schedule record", stderr.String())
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("worker after cancel: exit code %d, want 0; stderr:\n%s", code, stderr.String())
	}
}
