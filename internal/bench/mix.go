package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/stewardhq/steward/internal/events"
)

// Mix is the share of each kind of event in a run, in percent. The rest of
// 100 are log lines.
type Mix struct {
	// ScriptsPercent are generated scripts of about 5 KB.
	ScriptsPercent int
	// RecordingsPercent are codegen recordings of about 50 KB.
	RecordingsPercent int
}

// DefaultMix is 90% log lines of about 300 bytes, 8% scripts and 2%
// recordings, about 1.7 KB per event on average.
var DefaultMix = Mix{ScriptsPercent: 8, RecordingsPercent: 2}

// Event is one generated event: its subject, encoded body and Nats-Msg-Id.
type Event struct {
	Subject string
	Body    []byte
	MsgID   string
}

// Generate returns n events of the mix spread over 50 users, the same for
// the same seed, so every measurement of a run uses the same input.
func Generate(n int, mix Mix, seed uint64, runID string) ([]Event, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Event, 0, n)
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for i := range n {
		user := fmt.Sprintf("bench-user-%02d", i%50)
		env := events.Envelope{
			ID:        fmt.Sprintf("%s-%d", runID, i),
			Kind:      events.KindRecord,
			UserID:    user,
			SessionID: fmt.Sprintf("bench-session-%02d", i%50),
			Time:      base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano),
		}
		switch p := rng.IntN(100); {
		case p < mix.RecordingsPercent:
			env.Type, env.Data = "codegen_recordings", recording(rng, 50_000)
		case p < mix.RecordingsPercent+mix.ScriptsPercent:
			env.Type, env.Data = "generated_scripts", script(rng, 5_000)
		default:
			env.Type, env.Data = "winston_logs", logLine(rng, i)
		}
		body, subject, err := events.Encode(env, 0)
		if err != nil {
			return nil, fmt.Errorf("generate event %d: %w", i, err)
		}
		out = append(out, Event{Subject: subject, Body: body, MsgID: user + ":" + env.ID})
	}
	return out, nil
}

var levels = []string{"debug", "info", "warn", "error"}

// logLine returns a winston-style JSON log line with dotted keys, about
// 300 bytes once wrapped in an envelope.
func logLine(rng *rand.Rand, i int) json.RawMessage {
	line := map[string]any{
		"level":            levels[rng.IntN(len(levels))],
		"message":          fmt.Sprintf("Generated step %d: click on locator #btn-%d", i, rng.IntN(1000)),
		"service":          "test-authoring-app",
		"service.version":  "1.0.0",
		"test.id":          fmt.Sprintf("tc-%d", i),
		"http.status_code": 200 + rng.IntN(4)*100,
		"durationMs":       rng.IntN(5000),
		"timestamp":        "2026-12-04T19:32:51.664Z",
	}
	b, _ := json.Marshal(line)
	return b
}

// script returns a generated test script of about size bytes.
func script(rng *rand.Rand, size int) json.RawMessage {
	var sb strings.Builder
	sb.WriteString("import { test, expect } from '@playwright/test';\n")
	for sb.Len() < size {
		fmt.Fprintf(&sb, "test('case %d', async ({ page }) => {\n  await page.getByRole('button', { name: 'Step %d' }).click();\n});\n", rng.IntN(1e6), rng.IntN(100))
	}
	b, _ := json.Marshal(map[string]any{"file_name": "generated.spec.ts", "language": "typescript", "content": sb.String()})
	return b
}

// recording returns a codegen recording of about size bytes: a list of
// recorded actions.
func recording(rng *rand.Rand, size int) json.RawMessage {
	type action struct {
		Type     string `json:"type"`
		Selector string `json:"selector"`
		Value    string `json:"value,omitempty"`
		AtMs     int    `json:"at_ms"`
	}
	var actions []action
	total := 0
	for total < size {
		a := action{Type: "click", Selector: fmt.Sprintf("#form > div:nth-child(%d) > button.submit", rng.IntN(50)), AtMs: total}
		if rng.IntN(3) == 0 {
			a.Type, a.Value = "fill", strings.Repeat("x", 20+rng.IntN(40))
		}
		actions = append(actions, a)
		total += 90 + len(a.Value)
	}
	b, _ := json.Marshal(map[string]any{"url": "https://app.example.test/", "actions": actions})
	return b
}
