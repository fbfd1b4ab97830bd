package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/testenv"
)

func TestRepublishLeavesOneDocument(t *testing.T) {
	e := setup(t)
	e.startWorker()
	ev := record("alice", "s1", "e1", "winston_logs", `{"n":1}`)
	first := e.publish(ev)
	if again := e.publish(ev); !again.Duplicate {
		t.Fatalf("second publish inside the dedupe window: got Duplicate false, want true")
	}
	// Outside the dedupe window a client republishes with no usable
	// window; the stream takes a second copy, the store must not.
	body, subject, _ := events.Encode(ev, 0)
	msg := nats.NewMsg(subject)
	msg.Data = body
	if ack := e.publishMsg(msg); ack.Sequence == first.Sequence {
		t.Fatalf("publish without Nats-Msg-Id: got the same sequence %d, want a new message", ack.Sequence)
	}
	e.waitSettled()
	if got := e.count("winston_logs", nil); got != 1 {
		t.Fatalf("documents after republish: got %d, want 1", got)
	}
}

func TestRedeliveryLeavesOneDocument(t *testing.T) {
	e := setup(t)
	stop := e.startWorker()
	for i := range 50 {
		e.publish(record("alice", "s1", fmt.Sprint("e", i), "generated_scripts", `{"n":1}`))
	}
	e.waitCount("generated_scripts", nil, 50)
	e.waitSettled()
	stop()
	// A new consumer delivers every event a second time.
	if err := e.js.DeleteConsumer(context.Background(), "EVENTS", "ingest"); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}
	e.startWorker()
	e.waitSettled()
	if got := e.count("generated_scripts", nil); got != 50 {
		t.Fatalf("documents after redelivery: got %d, want 50", got)
	}
}

func TestInvalidEventDeadLettered(t *testing.T) {
	e := setup(t)
	e.provision()
	// Publish the whole batch before the worker starts so it arrives as one.
	for i := range 5 {
		e.publish(record("alice", "s1", fmt.Sprint("good", i), "winston_logs", `{"n":1}`))
	}
	bad := nats.NewMsg("steward.events.alice.s1.record.winston_logs")
	bad.Data = []byte(`{"spec_version":"1","id":"bad1"`)
	bad.Header.Set("X-Client", "test-app/1.0")
	badAck := e.publishMsg(bad)
	for i := 5; i < 10; i++ {
		e.publish(record("alice", "s1", fmt.Sprint("good", i), "winston_logs", `{"n":1}`))
	}
	e.startWorker()
	e.waitCount("winston_logs", nil, 10)
	e.waitSettled()

	dl := e.deadLetters(1)[0]
	if got := dl.Header.Get(ingest.HeaderReasonCode); got != string(events.ReasonMalformed) {
		t.Fatalf("reason code: got %q, want %q", got, events.ReasonMalformed)
	}
	if dl.Header.Get(ingest.HeaderReason) == "" {
		t.Fatalf("reason header is empty")
	}
	if got := dl.Header.Get("X-Client"); got != "test-app/1.0" {
		t.Fatalf("original header X-Client: got %q, want test-app/1.0", got)
	}
	if got, want := dl.Header.Get(ingest.HeaderOriginalSeq), fmt.Sprint(badAck.Sequence); got != want {
		t.Fatalf("original sequence: got %q, want %q", got, want)
	}
	if string(dl.Data) != string(bad.Data) {
		t.Fatalf("dead letter body: got %q, want the original %q", dl.Data, bad.Data)
	}
}

// deadLetters reads the dead-letter stream and fails unless it holds want
// messages.
func (e *env) deadLetters(want int) []*jetstream.RawStreamMsg {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, "DLQ")
	if err != nil {
		e.t.Fatalf("dead-letter stream: %v", err)
	}
	var out []*jetstream.RawStreamMsg
	testenv.Eventually(e.t, 10*time.Second, func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(want)
	}, "dead-letter stream never held %d messages", want)
	info, _ := s.Info(ctx)
	if info.State.Msgs != uint64(want) {
		e.t.Fatalf("dead letters: got %d, want %d", info.State.Msgs, want)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatalf("get dead letter %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRejections(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		env     events.Envelope
		msgID   string
		want    events.Reason
	}{
		{"subject user differs from payload", "steward.events.mallory.s1.record.winston_logs",
			record("alice", "s1", "e1", "winston_logs", `{"n":1}`), "", events.ReasonSubjectMismatch},
		{"unknown data type", "steward.events.alice.s1.record.screenshots",
			record("alice", "s1", "e1", "screenshots", `{"n":1}`), "", events.ReasonUnknownType},
		{"msg id without user", "steward.events.alice.s1.record.winston_logs",
			record("alice", "s1", "e1", "winston_logs", `{"n":1}`), "e1", events.ReasonInvalidID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			e.startWorker()
			body, _, err := events.Encode(tt.env, 0)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			msg := nats.NewMsg(tt.subject)
			msg.Data = body
			if tt.msgID != "" {
				msg.Header.Set(jetstream.MsgIDHeader, tt.msgID)
			}
			e.publishMsg(msg)
			dl := e.deadLetters(1)[0]
			if got := dl.Header.Get(ingest.HeaderReasonCode); got != string(tt.want) {
				t.Fatalf("reason: got %q (%s), want %q", got, dl.Header.Get(ingest.HeaderReason), tt.want)
			}
			e.waitSettled()
			for _, c := range []string{"winston_logs", "screenshots"} {
				if n := e.count(c, nil); n != 0 {
					t.Fatalf("%s: got %d documents, want 0", c, n)
				}
			}
		})
	}
}

func TestSameEventIDTwoUsers(t *testing.T) {
	e := setup(t)
	e.startWorker()
	a := e.publish(record("alice", "s1", "1", "winston_logs", `{"from":"alice"}`))
	b := e.publish(record("bob", "s9", "1", "winston_logs", `{"from":"bob"}`))
	if a.Duplicate || b.Duplicate {
		t.Fatalf("publish: got duplicate acks alice=%v bob=%v, want none", a.Duplicate, b.Duplicate)
	}
	e.waitCount("winston_logs", nil, 2)
	for _, user := range []string{"alice", "bob"} {
		doc := e.find("winston_logs", user+":1")
		data, _ := events.DecodeData(doc["data"])
		if want := `{"from":"` + user + `"}`; string(data) != want {
			t.Fatalf("%s's event 1: got %s, want %s", user, data, want)
		}
	}
}

func TestTwoReplicasStoreEachEventOnce(t *testing.T) {
	e := setup(t)
	e.startWorker()
	e.startWorker()
	const n = 2000
	for i := range n {
		e.publish(record(fmt.Sprint("user", i%7), "s1", fmt.Sprint("e", i), "winston_logs", `{"n":1}`))
	}
	e.waitCount("winston_logs", nil, n)
	e.waitSettled()
	c, _ := e.js.Consumer(context.Background(), "EVENTS", "ingest")
	info, _ := c.Info(context.Background())
	if info.AckFloor.Stream != n {
		t.Fatalf("ack floor: got %d, want %d", info.AckFloor.Stream, n)
	}
	if got := e.count("winston_logs", nil); got != n {
		t.Fatalf("documents: got %d, want %d", got, n)
	}
}

func TestSessionsCollection(t *testing.T) {
	e := setup(t)
	e.startWorker()
	// The end arrives before the start; the document must still be whole.
	e.publish(events.Envelope{ID: "end", Kind: events.KindSessionEnded, UserID: "alice", SessionID: "s1", Time: "2026-12-04T11:00:00Z"})
	e.publish(events.Envelope{ID: "start", Kind: events.KindSessionStarted, UserID: "alice", SessionID: "s1", Time: "2026-12-04T10:00:00+01:00",
		Data: []byte(`{"app_name":"test-author","app_version":"2.3.1","os":"darwin"}`)})
	e.waitSettled()
	doc := e.find("sessions", "alice:s1")
	if doc["app_name"] != "test-author" || doc["app_version"] != "2.3.1" {
		t.Fatalf("app: got %v %v, want test-author 2.3.1", doc["app_name"], doc["app_version"])
	}
	if got := doc["started_at"].(bson.DateTime).Time().UTC(); !got.Equal(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("started_at: got %v, want 09:00 UTC", got)
	}
	if _, ok := doc["ended_at"]; !ok {
		t.Fatalf("ended_at missing: %v", doc)
	}
	client, _ := doc["client"].(bson.D)
	if len(client) != 1 || client[0].Key != "os" {
		t.Fatalf("client info: got %v, want os only", client)
	}
}
