package events_test

import (
	"bufio"
	"os"
	"testing"

	"github.com/stewardhq/steward/internal/events"
)

// logLines returns envelopes of the first n lines of the real winston log.
func logLines(b *testing.B, n int) [][]byte {
	b.Helper()
	f, err := os.Open("../../testdata/winston-app.log")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for i := 0; i < n && sc.Scan(); i++ {
		body, _, err := events.Encode(events.Envelope{ID: "e" + string(rune('a'+i%26)), Kind: events.KindRecord, UserID: "alice", SessionID: "s1",
			Type: "winston_logs", Time: "2026-12-04T19:32:51.650Z", Data: append([]byte(nil), sc.Bytes()...)}, 0)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, body)
	}
	return out
}

func BenchmarkDecodeLogLine(b *testing.B) {
	lines := logLines(b, 1000)
	var size int
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := events.Decode("steward.events.alice.s1.record.winston_logs", lines[i%len(lines)], 0); err != nil {
			b.Fatal(err)
		}
	}
}
