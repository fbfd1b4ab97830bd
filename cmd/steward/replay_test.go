package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/deadletter"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/replay"
	"github.com/stewardhq/steward/internal/stats"
	"github.com/stewardhq/steward/internal/testenv"
)

// stewardBoth runs the CLI and returns its exit code, standard output and
// standard error.
func stewardBoth(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// publishUsers publishes 200 log lines for alice and carol and 30 scripts
// for bob through steward publish, and waits until all are stored.
func publishUsers(t *testing.T) stats.Report {
	t.Helper()
	dir := t.TempDir()
	var log strings.Builder
	for i := range 200 {
		fmt.Fprintf(&log, `{"level":"info","message":"line %d","http.status_code":200}`+"\n", i)
	}
	logFile := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logFile, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	scripts := filepath.Join(dir, "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := os.WriteFile(filepath.Join(scripts, fmt.Sprintf("case-%02d.spec.ts", i)), []byte(fmt.Sprintf("test('case %d', () => {});\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, args := range [][]string{
		{"publish", "--user", "alice", "--session", "s1", "--type", "winston_logs", logFile},
		{"publish", "--user", "carol", "--session", "s7", "--type", "winston_logs", logFile},
		{"publish", "--user", "bob", "--session", "s2", "--type", "generated_scripts", scripts},
	} {
		if code, out := steward(t, args...); code != 0 {
			t.Fatalf("%s: exit %d, output %q", strings.Join(args, " "), code, out)
		}
	}

	var rep stats.Report
	testenv.Eventually(t, 60*time.Second, func() bool { rep = collectStats(t); return rep.Total >= 430 }, "stats never reached 430 documents")
	return rep
}

// replayLines runs steward replay with args and returns its JSON lines and
// the summary it printed to standard error.
func replayLines(t *testing.T, args ...string) ([]string, replay.Summary) {
	t.Helper()
	code, out, errOut := stewardBoth(t, append([]string{"replay", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("replay %v: exit %d, stderr %s", args, code, errOut)
	}
	var sum replay.Summary
	if err := json.Unmarshal([]byte(errOut), &sum); err != nil {
		t.Fatalf("replay summary %q: %v", errOut, err)
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sum
}

func TestReplayRestoreAndErase(t *testing.T) {
	m := startStack(t)
	before := publishUsers(t)

	lines, sum := replayLines(t, "--user", "alice")
	if len(lines) != 200 || sum.Events != 200 {
		t.Fatalf("replay --user alice: got %d lines (summary %d), want 200", len(lines), sum.Events)
	}
	for _, l := range lines {
		var line struct {
			Subject string `json:"subject"`
			Event   struct {
				UserID string `json:"user_id"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		if !strings.HasPrefix(line.Subject, "steward.events.alice.") || line.Event.UserID != "alice" {
			t.Fatalf("replay --user alice: got a line of %s on %s", line.Event.UserID, line.Subject)
		}
	}
	_, again := replayLines(t, "--user", "alice")
	if again.Digest != sum.Digest {
		t.Errorf("digests of two replays: got %s and %s, want equal", sum.Digest, again.Digest)
	}

	if err := m.Database(t).Drop(context.Background()); err != nil {
		t.Fatalf("drop database: %v", err)
	}
	if rep := collectStats(t); rep.Total != 0 {
		t.Fatalf("stats after the drop: got %d documents, want 0", rep.Total)
	}
	code, out, errOut := stewardBoth(t, "replay", "--restore", "--json")
	if code != 0 {
		t.Fatalf("replay --restore: exit %d, stderr %s", code, errOut)
	}
	var restored replay.Summary
	if err := json.Unmarshal([]byte(out), &restored); err != nil {
		t.Fatalf("restore summary %q: %v", out, err)
	}
	if restored.Restore == nil || restored.Restore.Stored != 430 {
		t.Errorf("restore: got %+v, want 430 stored", restored.Restore)
	}
	if after := collectStats(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("stats after restore: got %v, want %v", after, before)
	}

	code, out, errOut = stewardBoth(t, "erase", "--user", "alice", "--requested-by", "test@example.com")
	if code != 0 || !strings.Contains(out, "total") {
		t.Fatalf("erase: exit %d, output %q, stderr %s", code, out, errOut)
	}
	after := collectStats(t)
	var want []stats.Row
	for _, r := range before.Rows {
		if r.User != "alice" {
			want = append(want, r)
		}
	}
	if !slices.Equal(after.Rows, want) {
		t.Fatalf("stats after erase: got %v, want %v", after.Rows, want)
	}
	if lines, _ := replayLines(t, "--user", "alice"); len(lines) != 0 {
		t.Fatalf("replay --user alice after erase: got %d lines, want 0", len(lines))
	}
	if lines, _ := replayLines(t, "--user", "carol"); len(lines) != 200 {
		t.Fatalf("replay --user carol after erase: got %d lines, want 200", len(lines))
	}
}

func TestDLQRedrive(t *testing.T) {
	startStack(t)
	_, js := testenv.Connect(t, os.Getenv("STEWARD_NATS_URL"))
	// A client that sets a bare event id as Nats-Msg-Id is rejected; the
	// redrive drops that header, so the event is stored.
	body, subject, err := events.Encode(events.Envelope{ID: "e1", Kind: events.KindRecord, UserID: "dave", SessionID: "s1", Type: "winston_logs", Data: []byte(`{"n":1}`)}, 0)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, "e1")
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatalf("publish: %v", err)
	}

	var groups struct {
		Groups []deadletter.Group `json:"groups"`
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		code, out := steward(t, "dlq", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &groups) == nil && len(groups.Groups) == 1
	}, "steward dlq never listed the dead letter")
	if g := groups.Groups[0]; g.Reason != events.ReasonInvalidID || g.Count != 1 {
		t.Fatalf("dlq: got %+v, want one invalid_id", g)
	}

	if code, out := steward(t, "dlq", "redrive"); code != 2 {
		t.Fatalf("redrive without a selection: exit %d, output %q, want 2", code, out)
	}
	code, out := steward(t, "dlq", "redrive", "--reason", "invalid_id")
	if code != 0 || !strings.Contains(out, "re-driven: 1, failed: 0") {
		t.Fatalf("redrive: exit %d, output %q", code, out)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return collectStats(t).Total == 1 }, "the re-driven event was never stored")
	if code, out := steward(t, "dlq", "--json"); code != 0 || !strings.Contains(out, `"groups": []`) {
		t.Fatalf("dlq after redrive: exit %d, output %q, want no groups", code, out)
	}
}

func TestReplayFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"bad time", []string{"replay", "--since", "yesterday"}},
		{"empty time range", []string{"replay", "--since", "2026-12-04T10:00:00Z", "--until", "2026-12-04T09:00:00Z"}},
		{"bad user", []string{"replay", "--user", "a.b"}},
		{"bad type", []string{"replay", "--type", "Logs"}},
		{"stray argument", []string{"replay", "alice"}},
		{"erase without user", []string{"erase"}},
		{"dlq bad sequence", []string{"dlq", "list", "--seq", "1,x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := stewardBoth(t, tt.args...); code != 2 {
				t.Fatalf("exit: got %d, want 2", code)
			}
		})
	}
}
