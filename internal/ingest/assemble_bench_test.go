package ingest

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stewardhq/steward/internal/events"
)

type benchTypes []string

func (b benchTypes) Allows(t string) bool { return slices.Contains(b, t) }
func (b benchTypes) Types() []string      { return b }

// BenchmarkAssembleBatch measures the work ingest does on a batch of 500
// real log lines before it reaches the store: decoding, validation, document
// building and grouping by collection.
func BenchmarkAssembleBatch(b *testing.B) {
	f, err := os.Open("../../testdata/winston-app.log")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var msgs []Message
	sc := bufio.NewScanner(f)
	now := time.Now()
	for i := 0; i < 500 && sc.Scan(); i++ {
		id := fmt.Sprint("e", i)
		body, subject, err := events.Encode(events.Envelope{ID: id, Kind: events.KindRecord, UserID: "alice", SessionID: "s1",
			Type: "winston_logs", Time: "2026-12-04T19:32:51.650Z", Data: append([]byte(nil), sc.Bytes()...)}, 0)
		if err != nil {
			b.Fatal(err)
		}
		h := nats.Header{}
		h.Set("Nats-Msg-Id", "alice:"+id)
		msgs = append(msgs, Message{Subject: subject, Header: h, Data: body, Sequence: uint64(i + 1), Time: now})
	}
	w := NewWriter(nil, 0, func() Types { return benchTypes{"winston_logs"} })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		results := make([]Result, len(msgs))
		valid := w.decode(msgs, results)
		groups := groupWrites(msgs, valid, results)
		if len(groups) != 1 || len(groups[0].items) != len(msgs) {
			b.Fatalf("groups: got %d, want one of %d documents", len(groups), len(msgs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(msgs)), "ns/event")
}
