package streams_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

const day = 24 * time.Hour

// eventsStream starts a NATS server and creates an events stream on it.
func eventsStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	n := testenv.NATS(t)
	_, js := testenv.Connect(t, n.URL())
	cfg := config.Stream{EventsStream: "EVENTS", DedupeWindow: time.Hour, Replicas: 1}
	if _, err := streams.Ensure(context.Background(), js, streams.EventsConfig(cfg, 1<<20, 365*day), testenv.Logger(t)); err != nil {
		t.Fatalf("create events stream: %v", err)
	}
	return js
}

// publishEvent publishes a valid event and returns its position in the
// stream.
func publishEvent(t *testing.T, js jetstream.JetStream, env events.Envelope) streams.Position {
	t.Helper()
	if env.Time == "" {
		env.Time = "2026-12-04T19:32:51Z"
	}
	body, subject, err := events.Encode(env, 0)
	if err != nil {
		t.Fatalf("encode event %s: %v", env.ID, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, env.UserID+":"+env.ID)
	ctx := context.Background()
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("publish %s: %v", env.ID, err)
	}
	s, err := js.Stream(ctx, ack.Stream)
	if err != nil {
		t.Fatalf("stream %s: %v", ack.Stream, err)
	}
	stored, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatalf("get message %d: %v", ack.Sequence, err)
	}
	return streams.Position{Seq: ack.Sequence, Time: stored.Time}
}

func record(user, id, dataType string) events.Envelope {
	return events.Envelope{ID: id, Kind: events.KindRecord, UserID: user, SessionID: "s1", Type: dataType, Data: json.RawMessage(`{"n":1}`)}
}

// remaining returns the event ids left in the stream, in stream order.
func remaining(t *testing.T, js jetstream.JetStream, stream string) []string {
	t.Helper()
	var ids []string
	err := streams.Read(context.Background(), js, stream, streams.Range{}, func(m jetstream.Msg) error {
		var env events.Envelope
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			t.Fatalf("decode message on %s: %v", m.Subject(), err)
		}
		ids = append(ids, env.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("read stream %s: %v", stream, err)
	}
	return ids
}

func TestPurgeExpired(t *testing.T) {
	// The default policy keeps testcase_generator for 30 days and
	// winston_logs, the longest, for 90 days.
	tests := []struct {
		name    string
		enabled bool
		// asOf is the cutoff time plus this offset. The cutoff is the
		// first young event's millisecond, after every old event.
		offset     time.Duration
		wantPurged uint64
		want       []string
	}{
		{"nothing expired", true, 29 * day, 0, []string{"old-test", "old-log", "old-session", "young-test", "young-log"}},
		{"short type expired", true, 30 * day, 1, []string{"old-log", "old-session", "young-test", "young-log"}},
		{"every type expired", true, 90 * day, 4, []string{"young-log"}},
		{"cleanup disabled", false, 90 * day, 0, []string{"old-test", "old-log", "old-session", "young-test", "young-log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := eventsStream(t)
			publishEvent(t, js, record("alice", "old-test", "testcase_generator"))
			publishEvent(t, js, record("bob", "old-log", "winston_logs"))
			old := publishEvent(t, js, events.Envelope{ID: "old-session", Kind: events.KindSessionStarted, UserID: "alice", SessionID: "s1"})
			// Cutoffs are whole milliseconds, so the young events must be
			// stored in a later millisecond than the old ones.
			testenv.Eventually(t, time.Second, func() bool { return time.Now().Truncate(time.Millisecond).After(old.Time) }, "the clock did not advance")
			young := publishEvent(t, js, record("alice", "young-test", "testcase_generator"))
			publishEvent(t, js, record("bob", "young-log", "winston_logs"))
			cutoff := young.Time.Truncate(time.Millisecond)
			if !cutoff.After(old.Time) {
				t.Fatalf("stream times: got %v for the young event, want a later millisecond than %v", young.Time, old.Time)
			}

			pol := policy.Default()
			pol.Enabled = tt.enabled
			rep, err := streams.PurgeExpired(context.Background(), js, "EVENTS", pol, cutoff.Add(tt.offset), testenv.Logger(t))
			if err != nil {
				t.Fatalf("PurgeExpired: %v", err)
			}
			if rep.Purged != tt.wantPurged {
				t.Errorf("purged: got %d, want %d (%+v)", rep.Purged, tt.wantPurged, rep.Purges)
			}
			if got := remaining(t, js, "EVENTS"); !slices.Equal(got, tt.want) {
				t.Errorf("events left: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPurgeExpiredWholeTypeKeepsOthers(t *testing.T) {
	js := eventsStream(t)
	publishEvent(t, js, record("alice", "old-test", "testcase_generator"))
	// Every test record is older than the cutoff, so the purge runs up to
	// the end of the stream, which must leave the younger messages of
	// other subjects alone.
	last := publishEvent(t, js, record("bob", "log", "winston_logs"))
	rep, err := streams.PurgeExpired(context.Background(), js, "EVENTS", policy.Default(), last.Time.Add(31*day), testenv.Logger(t))
	if err != nil {
		t.Fatalf("PurgeExpired: %v", err)
	}
	if rep.Purged != 1 {
		t.Errorf("purged: got %d, want 1", rep.Purged)
	}
	if got, want := remaining(t, js, "EVENTS"), []string{"log"}; !slices.Equal(got, want) {
		t.Errorf("events left: got %v, want %v", got, want)
	}
}
