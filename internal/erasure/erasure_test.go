package erasure_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/erasure"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

func (e *env) eraser(settle time.Duration) *erasure.Eraser {
	e.T.Helper()
	cfg := erasure.Config{EventsStream: "EVENTS", DeadLetterStream: "DLQ", IngestConsumer: "ingest", SettleTimeout: settle, PollInterval: 20 * time.Millisecond}
	return erasure.New(e.JS, e.Mongo.Store(e.T), cfg, testenv.Logger(e.T))
}

// streamCount returns the number of messages in stream that match filter.
func (e *env) streamCount(stream, filter string) int {
	e.T.Helper()
	n := 0
	err := streams.Read(context.Background(), e.JS, stream, streams.Range{Filter: filter, HeadersOnly: true}, func(jetstream.Msg) error {
		n++
		return nil
	})
	if err != nil {
		e.T.Fatalf("read %s: %v", stream, err)
	}
	return n
}

// without returns the snapshot without the documents of user.
func without(snapshot map[string]string, user string) map[string]string {
	out := map[string]string{}
	for k, v := range snapshot {
		if !strings.Contains(k, "/"+user+":") {
			out[k] = v
		}
	}
	return out
}

// auditDocuments returns the erasure audit documents.
func (e *env) auditDocuments() []bson.Raw {
	e.T.Helper()
	cur, err := e.DB.Collection(store.AuditCollection).Find(context.Background(), bson.D{{Key: "kind", Value: erasure.AuditKind}})
	if err != nil {
		e.T.Fatalf("find audit documents: %v", err)
	}
	var docs []bson.Raw
	if err := cur.All(context.Background(), &docs); err != nil {
		e.T.Fatalf("read audit documents: %v", err)
	}
	return docs
}

func TestEraseRemovesOneUser(t *testing.T) {
	e := setup(t)
	e.StartIngest()
	e.PublishMixed()
	// A type without retention period: ingest dead-letters it.
	e.Publish(record("alice", "s1", "shot", "screenshots"))
	e.WaitSettled()
	testenv.Eventually(t, 10*time.Second, func() bool { return e.streamCount("DLQ", "") == 2 }, "the dead-letter stream never held 2 letters")
	before := e.Snapshot()

	rep, err := e.eraser(10*time.Second).Erase(context.Background(), erasure.Request{User: "alice", RequestedBy: "ops@example.com"})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}

	if !rep.Settled {
		t.Errorf("settled: got false, want true")
	}
	wantCounts := map[string]int64{"generated_scripts": 20, "winston_logs": 20, "sessions": 1}
	for _, c := range rep.Collections {
		if c.Deleted != wantCounts[c.Collection] {
			t.Errorf("deleted from %s: got %d, want %d", c.Collection, c.Deleted, wantCounts[c.Collection])
		}
	}
	if rep.Deleted != 41 || rep.EventsPurged != 43 || rep.DeadLettersPurged != 1 {
		t.Errorf("report: got %d deleted, %d events and %d dead letters purged, want 41, 43 and 1", rep.Deleted, rep.EventsPurged, rep.DeadLettersPurged)
	}
	compareSnapshots(t, e.Snapshot(), without(before, "alice"))

	streamTests := []struct {
		stream, filter string
		want           int
	}{
		{"EVENTS", "steward.events.alice.>", 0},
		{"EVENTS", "steward.events.bob.>", 43},
		{"EVENTS", "steward.events.carol.>", 42},
		{"DLQ", "steward.dlq.*.alice.>", 0},
		{"DLQ", "steward.dlq.*.bob.>", 1},
	}
	for _, tt := range streamTests {
		if got := e.streamCount(tt.stream, tt.filter); got != tt.want {
			t.Errorf("%s messages on %s: got %d, want %d", tt.stream, tt.filter, got, tt.want)
		}
	}

	audits := e.auditDocuments()
	if len(audits) != 1 {
		t.Fatalf("audit documents: got %d, want 1", len(audits))
	}
	audit := audits[0]
	if got := audit.Lookup("user_sha256").StringValue(); got != store.UserHash("alice") {
		t.Errorf("audit user_sha256: got %s, want %s", got, store.UserHash("alice"))
	}
	if got := audit.Lookup("requested_by").StringValue(); got != "ops@example.com" {
		t.Errorf("audit requested_by: got %s, want ops@example.com", got)
	}
	if got := audit.Lookup("deleted").Int64(); got != 41 {
		t.Errorf("audit deleted: got %d, want 41", got)
	}
	if strings.Contains(audit.String(), "alice") {
		t.Errorf("audit document %s contains the user id", audit)
	}
}

func TestInFlightEventNotStoredAgain(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	types := func() ingest.Types { return defaultTypes }
	st := e.Mongo.Store(t)
	countAlice := func() int64 {
		n, err := e.DB.Collection("winston_logs").CountDocuments(ctx, scope.User("alice").Filter())
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}

	cons, err := e.JS.CreateOrUpdateConsumer(ctx, "EVENTS", streams.IngestConsumerConfig("ingest", e.Cfg.Ingest))
	if err != nil {
		t.Fatalf("create ingest consumer: %v", err)
	}
	w := ingest.NewWriter(st, 0, types)
	// An event stored before the erasure, whose removal shows that the
	// erasure's first delete has run.
	e.Publish(record("alice", "s1", "stored", "winston_logs"))
	stored := fetchOne(t, cons)
	storedMsg, _ := ingest.MessageOf(stored)
	if got := w.Write(ctx, []ingest.Message{storedMsg})[0].Outcome; got != ingest.Stored {
		t.Fatalf("write of the first event: got %v, want %v", got, ingest.Stored)
	}
	if err := stored.DoubleAck(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}

	// A slow ingest replica takes the next event and validates it before
	// the erasure begins, then stores it only after the first delete.
	e.Publish(record("alice", "s1", "in-flight", "winston_logs"))
	msg := fetchOne(t, cons)
	m, err := ingest.MessageOf(msg)
	if err != nil {
		t.Fatalf("MessageOf: %v", err)
	}
	ev, err := events.Decode(m.Subject, m.Data, 0)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	doc, err := store.RecordDocument(ev, store.Receipt{ReceivedAt: m.Time, Sequence: m.Sequence})
	if err != nil {
		t.Fatalf("RecordDocument: %v", err)
	}

	type outcome struct {
		rep *erasure.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := e.eraser(20*time.Second).Erase(ctx, erasure.Request{User: "alice", RequestedBy: "test"})
		done <- outcome{rep, err}
	}()
	testenv.Eventually(t, 10*time.Second, func() bool { return countAlice() == 0 }, "the erasure never deleted the stored event")
	if _, err := st.InsertRecords(ctx, "winston_logs", []bson.Raw{doc}); err != nil {
		t.Fatalf("late insert: %v", err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}

	res := <-done
	if res.err != nil {
		t.Fatalf("Erase: %v", res.err)
	}
	if !res.rep.Settled {
		t.Errorf("settled: got false, want true")
	}
	if got := countAlice(); got != 0 {
		t.Fatalf("alice's documents after the erasure: got %d, want 0", got)
	}

	// A redelivery of the same event is skipped now.
	if got := w.Write(ctx, []ingest.Message{m})[0].Outcome; got != ingest.Erased {
		t.Errorf("write of the erased event: got %v, want %v", got, ingest.Erased)
	}
	// An event published after the erasure is stored.
	e.Publish(record("alice", "s1", "after", "winston_logs"))
	later, err := ingest.MessageOf(fetchOne(t, cons))
	if err != nil {
		t.Fatalf("MessageOf: %v", err)
	}
	if got := w.Write(ctx, []ingest.Message{later})[0].Outcome; got != ingest.Stored {
		t.Errorf("write of an event after the erasure: got %v, want %v", got, ingest.Stored)
	}
	if got := countAlice(); got != 1 {
		t.Errorf("alice's documents after a new event: got %d, want 1", got)
	}
}

func fetchOne(t *testing.T, cons jetstream.Consumer) jetstream.Msg {
	t.Helper()
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return msg
}

func TestEraseNotSettled(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.Publish(record("alice", "s1", "held", "winston_logs"))
	cons, err := e.JS.CreateOrUpdateConsumer(ctx, "EVENTS", streams.IngestConsumerConfig("ingest", e.Cfg.Ingest))
	if err != nil {
		t.Fatalf("create ingest consumer: %v", err)
	}
	// Taken and never acknowledged, as by a replica stuck in a write.
	fetchOne(t, cons)

	rep, err := e.eraser(300*time.Millisecond).Erase(ctx, erasure.Request{User: "alice", RequestedBy: "test"})
	if !errors.Is(err, erasure.ErrNotSettled) {
		t.Fatalf("Erase: got %v, want ErrNotSettled", err)
	}
	if rep.Settled {
		t.Errorf("report settled: got true, want false")
	}
	audits := e.auditDocuments()
	if len(audits) != 1 {
		t.Fatalf("audit documents: got %d, want 1", len(audits))
	}
	if audits[0].Lookup("settled").Boolean() {
		t.Errorf("audit settled: got true, want false")
	}
}

func TestWorkerHandlesRequests(t *testing.T) {
	e := setup(t)
	e.StartIngest()
	e.PublishMixed()
	e.WaitSettled()
	before := e.Snapshot()

	ctx, cancel := context.WithCancel(context.Background())
	w := erasure.NewWorker(e.JS, e.eraser(10*time.Second), erasure.WorkerConfig{FetchWait: 100 * time.Millisecond}, testenv.Logger(t))
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker Run: %v", err)
		}
	})
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, err := e.JS.Consumer(ctx, "STEWARD_ADMIN", "erasure")
		return err == nil
	}, "the erasure consumer was not created")

	requests := []string{
		`not json`,
		`{"user_id":"bad.id","requested_by":"ops"}`,
		`{"user_id":"bob"}`,
		`{"user_id":"alice","requested_by":"ops@example.com"}`,
	}
	for _, r := range requests {
		if _, err := e.JS.Publish(ctx, erasure.RequestSubject, []byte(r)); err != nil {
			t.Fatalf("publish request %s: %v", r, err)
		}
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return len(e.auditDocuments()) == 1 }, "no erasure was recorded")
	compareSnapshots(t, e.Snapshot(), without(before, "alice"))
	// Every request, handled or dropped, leaves the stream.
	testenv.Eventually(t, 10*time.Second, func() bool {
		s, err := e.JS.Stream(ctx, "STEWARD_ADMIN")
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	}, "requests were left in the stream")
}
