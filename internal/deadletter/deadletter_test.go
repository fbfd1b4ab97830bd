package deadletter_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/deadletter"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/testenv"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		name     string
		reason   events.Reason
		original string
		want     string
	}{
		{"record", events.ReasonUnknownType, "steward.events.alice.s1.record.screenshots", "steward.dlq.unknown_type.alice.s1.record.screenshots"},
		{"session event", events.ReasonMalformed, "steward.events.bob.s2.session.started", "steward.dlq.malformed.bob.s2.session.started"},
		{"short subject", events.ReasonSubjectMismatch, "steward.events.carol", "steward.dlq.subject_mismatch.carol"},
		{"not an event subject", events.ReasonMalformed, "other.subject", "steward.dlq.malformed.~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deadletter.Subject(tt.reason, tt.original); got != tt.want {
				t.Fatalf("Subject(%s, %s): got %s, want %s", tt.reason, tt.original, got, tt.want)
			}
		})
	}
	if got, want := deadletter.UserFilter("alice"), "steward.dlq.*.alice.>"; got != want {
		t.Errorf("UserFilter: got %s, want %s", got, want)
	}
}

// rejectAll publishes four events that ingest dead-letters: two records of
// a type without retention period for alice, a malformed message for bob,
// and an event with a wrong Nats-Msg-Id for carol.
func (e *env) rejectAll() {
	e.T.Helper()
	e.Publish(record("alice", "s1", "shot1", "screenshots"))
	e.Publish(record("alice", "s1", "shot2", "screenshots"))
	bad := nats.NewMsg("steward.events.bob.s1.record.winston_logs")
	bad.Data = []byte(`{"spec_version":"1","id":"broken"`)
	e.PublishMsg(bad)
	body, subject, err := events.Encode(record("carol", "s1", "e1", "winston_logs"), 0)
	if err != nil {
		e.T.Fatalf("encode: %v", err)
	}
	wrongID := nats.NewMsg(subject)
	wrongID.Data = body
	wrongID.Header.Set(jetstream.MsgIDHeader, "e1")
	e.PublishMsg(wrongID)
	testenv.Eventually(e.T, 10*time.Second, func() bool { return e.letterCount() == 4 }, "the dead-letter stream never held 4 letters")
}

func (e *env) letterCount() int {
	e.T.Helper()
	n := 0
	if err := deadletter.Scan(context.Background(), e.JS, "DLQ", deadletter.Selection{}, func(deadletter.Letter) error { n++; return nil }); err != nil {
		e.T.Fatalf("scan dead letters: %v", err)
	}
	return n
}

// waitAcked waits until ingest has acknowledged every event up to seq.
func (e *env) waitAcked(seq uint64) {
	e.T.Helper()
	testenv.Eventually(e.T, 30*time.Second, func() bool {
		c, err := e.JS.Consumer(context.Background(), "EVENTS", "ingest")
		return err == nil && c.CachedInfo().AckFloor.Stream >= seq
	}, "ingest never acknowledged sequence %d", seq)
}

func (e *env) count(collection string) int64 {
	e.T.Helper()
	n, err := e.DB.Collection(collection).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		e.T.Fatalf("count %s: %v", collection, err)
	}
	return n
}

func TestSummarize(t *testing.T) {
	e := setup(t)
	e.StartIngest()
	e.rejectAll()
	groups, err := deadletter.Summarize(context.Background(), e.JS, "DLQ", deadletter.Selection{})
	if err != nil {
		t.Fatalf("Summarize: %v", err)
	}
	want := []struct {
		reason events.Reason
		count  int
	}{{events.ReasonInvalidID, 1}, {events.ReasonMalformed, 1}, {events.ReasonUnknownType, 2}}
	if len(groups) != len(want) {
		t.Fatalf("groups: got %+v, want %+v", groups, want)
	}
	for i, w := range want {
		g := groups[i]
		if g.Reason != w.reason || g.Count != w.count {
			t.Errorf("group %d: got %s %d, want %s %d", i, g.Reason, g.Count, w.reason, w.count)
		}
		if g.First.IsZero() || g.Last.Before(g.First) {
			t.Errorf("group %s: got first %v last %v, want a time range", g.Reason, g.First, g.Last)
		}
	}
}

func TestRedriveStoresOnce(t *testing.T) {
	e := setup(t)
	var types atomic.Pointer[testenv.Types]
	types.Store(&defaultTypes)
	e.Cfg.Types = func() ingest.Types { return *types.Load() }
	e.StartIngest()
	e.rejectAll()
	ctx := context.Background()
	log := testenv.Logger(t)

	// The policy now keeps screenshots.
	withShots := append(testenv.Types{"screenshots"}, defaultTypes...)
	types.Store(&withShots)

	dry, err := deadletter.Redrive(ctx, e.JS, "DLQ", deadletter.Selection{Reason: events.ReasonUnknownType}, true, log)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if len(dry.Letters) != 2 || dry.Redriven != 0 || e.letterCount() != 4 {
		t.Fatalf("dry run: got %d letters listed, %d re-driven, %d left, want 2, 0 and 4", len(dry.Letters), dry.Redriven, e.letterCount())
	}

	rep, err := deadletter.Redrive(ctx, e.JS, "DLQ", deadletter.Selection{Reason: events.ReasonUnknownType}, false, log)
	if err != nil {
		t.Fatalf("Redrive: %v", err)
	}
	if rep.Redriven != 2 || rep.Failed != 0 {
		t.Fatalf("redrive: got %d re-driven and %d failed, want 2 and 0", rep.Redriven, rep.Failed)
	}
	e.waitAcked(max(rep.Letters[0].EventsSeq, rep.Letters[1].EventsSeq))
	if got := e.count("screenshots"); got != 2 {
		t.Fatalf("screenshots stored: got %d, want 2", got)
	}
	if got := e.letterCount(); got != 2 {
		t.Fatalf("dead letters left: got %d, want 2", got)
	}

	// Republishing a re-driven event again, as after a failed delete of its
	// dead letter, stores nothing new.
	s, err := e.JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	again, err := s.GetMsg(ctx, rep.Letters[0].EventsSeq)
	if err != nil {
		t.Fatalf("get re-driven event: %v", err)
	}
	if again.Header.Get(jetstream.MsgIDHeader) != "" {
		t.Errorf("re-driven event: got Nats-Msg-Id %q, want none", again.Header.Get(jetstream.MsgIDHeader))
	}
	ack := e.PublishMsg(&nats.Msg{Subject: again.Subject, Header: again.Header, Data: again.Data})
	e.waitAcked(ack.Sequence)
	if got := e.count("screenshots"); got != 2 {
		t.Fatalf("screenshots after a second republish: got %d, want 2", got)
	}

	// Carol's event failed only for its Nats-Msg-Id, which a redrive drops.
	var carol uint64
	err = deadletter.Scan(ctx, e.JS, "DLQ", deadletter.Selection{Reason: events.ReasonInvalidID}, func(l deadletter.Letter) error {
		carol = l.Seq
		return nil
	})
	if err != nil || carol == 0 {
		t.Fatalf("find carol's dead letter: got seq %d, err %v", carol, err)
	}
	bySeq, err := deadletter.Redrive(ctx, e.JS, "DLQ", deadletter.Selection{Seqs: []uint64{carol}}, false, log)
	if err != nil || bySeq.Redriven != 1 {
		t.Fatalf("Redrive by sequence: got %d re-driven, err %v, want 1", bySeq.Redriven, err)
	}
	e.waitAcked(bySeq.Letters[0].EventsSeq)
	if got := e.count("winston_logs"); got != 1 {
		t.Fatalf("carol's event stored: got %d documents, want 1", got)
	}
}

func TestPurgeUser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	letters := []*nats.Msg{
		deadletter.Build("EVENTS", deadletter.Original{Subject: "steward.events.alice.s1.record.screenshots", Data: []byte(`{}`), Sequence: 1}, events.Reject(events.ReasonUnknownType, "x"), time.Now()),
		deadletter.Build("EVENTS", deadletter.Original{Subject: "steward.events.bob.s1.record.screenshots", Data: []byte(`{}`), Sequence: 2}, events.Reject(events.ReasonUnknownType, "x"), time.Now()),
		deadletter.Build("EVENTS", deadletter.Original{Subject: "steward.events.alice", Data: []byte(`{}`), Sequence: 3}, events.Reject(events.ReasonSubjectMismatch, "x"), time.Now()),
	}
	// Dead letters of the earlier form, steward.dlq.<reason>.
	for i, user := range []string{"alice", "bob"} {
		m := nats.NewMsg("steward.dlq.malformed")
		m.Data = []byte(`{"id":`)
		m.Header.Set(deadletter.HeaderOriginalSubject, "steward.events."+user+".s1.record.winston_logs")
		m.Header.Set(deadletter.HeaderReasonCode, "malformed")
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprint("legacy", i))
		letters = append(letters, m)
	}
	for _, m := range letters {
		e.PublishMsg(m)
	}

	purged, err := deadletter.PurgeUser(ctx, e.JS, "DLQ", "alice")
	if err != nil {
		t.Fatalf("PurgeUser: %v", err)
	}
	if purged != 3 {
		t.Errorf("purged: got %d, want 3", purged)
	}
	var left []string
	err = deadletter.Scan(ctx, e.JS, "DLQ", deadletter.Selection{}, func(l deadletter.Letter) error {
		left = append(left, l.OriginalSubject)
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	want := []string{"steward.events.bob.s1.record.screenshots", "steward.events.bob.s1.record.winston_logs"}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("dead letters left: got %v, want %v", left, want)
	}
}
