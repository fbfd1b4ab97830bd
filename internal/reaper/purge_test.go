package reaper_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

// TestScheduledRunPurgesStream checks that a scheduled run removes the
// events whose retention period is over from the events stream, and keeps
// the others, with the same cutoffs as the documents.
func TestScheduledRunPurgesStream(t *testing.T) {
	e := setupNATS(t)
	ctx := context.Background()
	cfg := config.Stream{EventsStream: "EVENTS", DedupeWindow: time.Minute, Replicas: 1}
	if _, err := streams.Ensure(ctx, e.js, streams.EventsConfig(cfg, 1<<20, 365*24*time.Hour), testenv.Logger(t)); err != nil {
		t.Fatalf("events stream: %v", err)
	}
	for _, dataType := range []string{"testcase_generator", "winston_logs"} {
		body, subject, err := events.Encode(events.Envelope{ID: dataType, Kind: events.KindRecord, UserID: "alice", SessionID: "s1",
			Type: dataType, Data: []byte(`{"n":1}`)}, 0)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if _, err := e.js.Publish(ctx, subject, body); err != nil {
			t.Fatalf("publish %s: %v", dataType, err)
		}
	}

	// Fifty days on, testcase_generator (30 days) has expired and
	// winston_logs (90 days) has not.
	e.clock.Set(time.Now().Add(50 * 24 * time.Hour))
	rcfg := e.config("r1")
	rcfg.EventsStream = "EVENTS"
	r, rec := e.newNATSReaper(rcfg, e.st, fixedPolicy{policy.Default()})
	e.startReaper(r, rec)
	e.waitAcked(e.publishTick())

	s, err := e.js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatalf("events stream: %v", err)
	}
	if _, err := s.GetLastMsgForSubject(ctx, "steward.events.alice.s1.record.testcase_generator"); err != jetstream.ErrMsgNotFound {
		t.Fatalf("expired testcase_generator event: got %v, want ErrMsgNotFound", err)
	}
	if _, err := s.GetLastMsgForSubject(ctx, "steward.events.alice.s1.record.winston_logs"); err != nil {
		t.Fatalf("young winston_logs event: got %v, want it kept", err)
	}
	if got := e.waitAudits(1)[0]; got.StreamPurged != 1 {
		t.Fatalf("audit stream_purged: got %d, want 1", got.StreamPurged)
	}
}
