package streams_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/streams"
)

// readSeqs returns the sequences Read delivers for r.
func readSeqs(t *testing.T, js jetstream.JetStream, r streams.Range) []uint64 {
	t.Helper()
	var seqs []uint64
	err := streams.Read(context.Background(), js, "EVENTS", r, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		seqs = append(seqs, meta.Sequence.Stream)
		return nil
	})
	if err != nil {
		t.Fatalf("Read %+v: %v", r, err)
	}
	return seqs
}

func TestReadRanges(t *testing.T) {
	js := eventsStream(t)
	// Sequences 1 to 6: alice, bob, alice, bob, alice, bob.
	for i := range 6 {
		user := []string{"alice", "bob"}[i%2]
		publishEvent(t, js, record(user, fmt.Sprint("e", i), "winston_logs"))
	}
	tests := []struct {
		name string
		r    streams.Range
		want []uint64
	}{
		{"everything", streams.Range{}, []uint64{1, 2, 3, 4, 5, 6}},
		{"one user", streams.Range{Filter: "steward.events.bob.>"}, []uint64{2, 4, 6}},
		{"sequence range", streams.Range{First: 2, Last: 4}, []uint64{2, 3, 4}},
		{"user in a range", streams.Range{Filter: "steward.events.alice.>", First: 2, Last: 4}, []uint64{3}},
		{"last beyond the stream", streams.Range{First: 5, Last: 100}, []uint64{5, 6}},
		{"no match", streams.Range{Filter: "steward.events.carol.>"}, nil},
		{"match only after last", streams.Range{Filter: "steward.events.bob.>", Last: 1}, nil},
		{"first after last", streams.Range{First: 5, Last: 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readSeqs(t, js, tt.r); !slices.Equal(got, tt.want) {
				t.Fatalf("sequences: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadEndsWhileStreamGrows(t *testing.T) {
	js := eventsStream(t)
	for i := range 100 {
		publishEvent(t, js, record("alice", fmt.Sprint("before", i), "winston_logs"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	publisherDone := make(chan struct{})
	go func() {
		defer close(publisherDone)
		for i := 0; ctx.Err() == nil; i++ {
			_, _ = js.Publish(ctx, "steward.events.alice.s1.record.winston_logs", []byte(`{}`))
		}
	}()

	done := make(chan []uint64, 1)
	go func() { done <- readSeqs(t, js, streams.Range{}) }()
	select {
	case got := <-done:
		if len(got) < 100 || got[0] != 1 {
			t.Fatalf("read: got %d messages starting at %v, want at least 100 from sequence 1", len(got), got[:min(1, len(got))])
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Read did not end within 30s while the stream grew")
	}
	cancel()
	<-publisherDone
}

func TestReadEndsAfterTailPurge(t *testing.T) {
	js := eventsStream(t)
	publishEvent(t, js, record("alice", "e1", "winston_logs"))
	publishEvent(t, js, record("bob", "e2", "winston_logs"))
	publishEvent(t, js, record("alice", "e3", "winston_logs"))
	var seqs []uint64
	err := streams.Read(context.Background(), js, "EVENTS", streams.Range{Filter: "steward.events.alice.>"}, func(m jetstream.Msg) error {
		meta, _ := m.Metadata()
		seqs = append(seqs, meta.Sequence.Stream)
		if len(seqs) == 1 {
			// Remove the last match before Read gets to it.
			if _, err := streams.Purge(context.Background(), js, "EVENTS", "steward.events.alice.>", 0); err != nil {
				t.Errorf("purge: %v", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(seqs) == 0 || seqs[0] != 1 {
		t.Fatalf("sequences: got %v, want 1 first", seqs)
	}
}

func TestDiffTreatsServerDefaultsAsEqual(t *testing.T) {
	want := jetstream.StreamConfig{Name: "S", Subjects: []string{"a.>"}}
	have := want
	have.Duplicates, have.MaxMsgSize, have.MaxMsgsPerSubject = 2*time.Minute, -1, -1
	if diff := streams.Diff(have, want); len(diff) != 0 {
		t.Fatalf("Diff of server defaults: got %v, want none", diff)
	}
	have.Duplicates = time.Hour
	if diff := streams.Diff(have, want); len(diff) != 1 {
		t.Fatalf("Diff of a changed window: got %v, want one difference", diff)
	}
}
