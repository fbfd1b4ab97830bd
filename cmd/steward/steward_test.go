package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/stats"
	"github.com/stewardhq/steward/internal/testenv"
)

const winstonLog = "../../testdata/winston-app.log"

// startStack starts NATS, a store and an ingest worker, and points the
// STEWARD_* variables of the CLI at them.
func startStack(t *testing.T) *testenv.Mongo {
	t.Helper()
	n := testenv.NATS(t)
	m := testenv.StartMongo(t)
	t.Setenv("STEWARD_NATS_URL", n.URL())
	t.Setenv("STEWARD_MONGODB_URI", m.Config.URI)
	t.Setenv("STEWARD_MONGODB_DATABASE", m.Config.Database)
	t.Setenv("STEWARD_LOG_FORMAT", "json")
	t.Setenv("STEWARD_LOG_LEVEL", "warn")
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	pol, err := policy.NewWatcher("", nil)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ingest.Serve(ctx, cfg, pol, testenv.Logger(t)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	return m
}

// steward runs the CLI and returns its exit code and standard output.
func steward(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("steward %s: stderr: %s", strings.Join(args, " "), stderr.String())
	}
	return code, stdout.String()
}

func collectStats(t *testing.T) stats.Report {
	t.Helper()
	code, out := steward(t, "stats", "--json")
	if code != 0 {
		t.Fatalf("stats: exit %d", code)
	}
	var rep stats.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stats output %q: %v", out, err)
	}
	return rep
}

func TestPublishRealLogAndScripts(t *testing.T) {
	m := startStack(t)
	scripts := t.TempDir()
	for i := range 100 {
		content := fmt.Sprintf("test('case %d', async ({ page }) => {\n  await page.goto('/%d');\n});\n", i, i)
		if err := os.WriteFile(filepath.Join(scripts, fmt.Sprintf("case-%03d.spec.ts", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	code, out := steward(t, "publish", "--user", "alice", "--session", "s1", "--type", "winston_logs", winstonLog)
	if code != 0 || !strings.Contains(out, "sent: 10000, duplicates: 0, rejected: 0") {
		t.Fatalf("publish log: exit %d, output %q; want exit 0 and 10000 sent", code, out)
	}
	code, out = steward(t, "publish", "--user", "bob", "--session", "s2", "--type", "generated_scripts", scripts)
	if code != 0 || !strings.Contains(out, "sent: 100,") {
		t.Fatalf("publish scripts: exit %d, output %q; want exit 0 and 100 sent", code, out)
	}

	var rep stats.Report
	testenv.Eventually(t, 60*time.Second, func() bool { rep = collectStats(t); return rep.Total >= 10100 }, "stats never reached 10100 documents")
	want := []stats.Row{
		{Collection: "generated_scripts", User: "bob", Documents: 100},
		{Collection: "winston_logs", User: "alice", Documents: 10000},
	}
	if fmt.Sprint(rep.Rows) != fmt.Sprint(want) || rep.Total != 10100 {
		t.Fatalf("stats: got %v total %d, want %v total 10100", rep.Rows, rep.Total, want)
	}

	code, out = steward(t, "publish", "--user", "alice", "--session", "s1", "--type", "winston_logs", winstonLog)
	if code != 0 || !strings.Contains(out, "sent: 0, duplicates: 10000") {
		t.Fatalf("republish: exit %d, output %q; want 10000 duplicates", code, out)
	}
	if rep = collectStats(t); rep.Total != 10100 {
		t.Fatalf("stats after republish: got total %d, want 10100", rep.Total)
	}

	checkLinesStoredExactly(t, m)
}

// checkLinesStoredExactly reads every stored log line back and compares it
// with the file, numbers and dotted keys included.
func checkLinesStoredExactly(t *testing.T, m *testenv.Mongo) {
	t.Helper()
	raw, err := os.ReadFile(winstonLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		lines[l] = true
	}
	cur, err := m.Database(t).Collection("winston_logs").Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	n := 0
	for cur.Next(context.Background()) {
		var doc struct {
			Data bson.D `bson:"data"`
		}
		if err := cur.Decode(&doc); err != nil {
			t.Fatalf("decode: %v", err)
		}
		got, err := events.DecodeData(doc.Data)
		if err != nil {
			t.Fatalf("DecodeData: %v", err)
		}
		if !lines[string(got)] {
			t.Fatalf("stored line %s is not a line of the file", got)
		}
		n++
	}
	if n != 10000 {
		t.Fatalf("lines read back: got %d, want 10000", n)
	}
}

func TestPublishRejections(t *testing.T) {
	startStack(t)
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.log")
	if err := os.WriteFile(mixed, []byte("{\"a\":1}\nnot json\n{\"b\":2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := steward(t, "publish", "--user", "carol", "--type", "winston_logs", mixed)
	if code != 1 {
		t.Fatalf("exit: got %d, want 1 because a line was rejected", code)
	}
	if !strings.Contains(out, "sent: 2, duplicates: 0, rejected: 1") || !strings.Contains(out, "mixed.log:2") {
		t.Fatalf("summary %q: want 2 sent, 1 rejected naming mixed.log:2", out)
	}

	tests := []struct {
		name string
		args []string
	}{
		{"unknown type", []string{"publish", "--user", "carol", "--type", "screenshots", mixed}},
		{"bad user", []string{"publish", "--user", "carol.x", "--type", "winston_logs", mixed}},
		{"no input", []string{"publish", "--user", "carol", "--type", "winston_logs"}},
		{"missing file", []string{"publish", "--user", "carol", "--type", "winston_logs", filepath.Join(dir, "nope")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := steward(t, tt.args...); code != 2 {
				t.Fatalf("exit: got %d, want 2", code)
			}
		})
	}
}
