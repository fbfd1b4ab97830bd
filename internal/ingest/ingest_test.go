package ingest_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/devstack"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

// env is one test's servers and clients.
type env struct {
	t     *testing.T
	nats  *devstack.NATS
	nc    *nats.Conn
	js    jetstream.JetStream
	mongo *testenv.Mongo
	db    *mongo.Database
	cfg   ingest.Config
}

func setup(t *testing.T) *env {
	t.Helper()
	n := testenv.NATS(t)
	nc, js := testenv.Connect(t, n.URL())
	m := testenv.StartMongo(t)
	cfg := ingest.Config{
		Stream:       config.Stream{EventsStream: "EVENTS", DeadLetterStream: "DLQ", DeadLetterMaxAge: 24 * time.Hour, DedupeWindow: time.Hour, Replicas: 1},
		Ingest:       config.Ingest{Consumer: "ingest", BatchSize: 100, MaxWait: 100 * time.Millisecond, MaxAckPending: 1000, MaxPayload: 1 << 20, AckWait: 3 * time.Second},
		StreamMaxAge: 24 * time.Hour,
		Types:        func() ingest.Types { return testenv.DefaultTypes },
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
	}
	return &env{t: t, nats: n, nc: nc, js: js, mongo: m, db: m.Database(t), cfg: cfg}
}

// provision creates the streams, so events can be published before any
// worker runs.
func (e *env) provision() {
	e.t.Helper()
	ctx := context.Background()
	log := testenv.Logger(e.t)
	if _, err := streams.Ensure(ctx, e.js, streams.EventsConfig(e.cfg.Stream, e.cfg.Ingest.MaxPayload, e.cfg.StreamMaxAge), log); err != nil {
		e.t.Fatalf("provision events stream: %v", err)
	}
	if _, err := streams.Ensure(ctx, e.js, streams.DeadLetterConfig(e.cfg.Stream), log); err != nil {
		e.t.Fatalf("provision dead-letter stream: %v", err)
	}
}

// startWorker runs a worker on its own connection until the returned stop
// function is called; stop waits for Run to return.
func (e *env) startWorker() (stop func()) {
	e.t.Helper()
	_, js := testenv.Connect(e.t, e.nats.URL())
	w := ingest.New(js, e.mongo.Store(e.t), e.cfg, testenv.Logger(e.t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("worker Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	// Wait until the worker has provisioned its consumer.
	testenv.Eventually(e.t, 10*time.Second, func() bool {
		_, err := e.js.Consumer(context.Background(), "EVENTS", "ingest")
		return err == nil
	}, "consumer was not created")
	return stop
}

func record(user, session, id, dataType string, data string) events.Envelope {
	return events.Envelope{ID: id, Kind: events.KindRecord, UserID: user, SessionID: session, Type: dataType,
		Time: "2026-12-04T19:32:51.650Z", Data: json.RawMessage(data)}
}

// publish sends an event the way a well-behaved client does.
func (e *env) publish(env events.Envelope) *jetstream.PubAck {
	e.t.Helper()
	body, subject, err := events.Encode(env, 0)
	if err != nil {
		e.t.Fatalf("encode %s: %v", env.ID, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, env.UserID+":"+env.ID)
	return e.publishMsg(msg)
}

func (e *env) publishMsg(msg *nats.Msg) *jetstream.PubAck {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := e.js.PublishMsg(ctx, msg)
	if err != nil {
		e.t.Fatalf("publish to %s: %v", msg.Subject, err)
	}
	return ack
}

func (e *env) count(collection string, filter bson.D) int64 {
	e.t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := e.db.Collection(collection).CountDocuments(context.Background(), filter)
	if err != nil {
		e.t.Fatalf("count %s: %v", collection, err)
	}
	return n
}

func (e *env) waitCount(collection string, filter bson.D, want int64) {
	e.t.Helper()
	var got int64
	testenv.Eventually(e.t, 30*time.Second, func() bool {
		got = e.count(collection, filter)
		return got >= want
	}, "%s: never reached %d documents", collection, want)
	if got != want {
		e.t.Fatalf("%s: got %d documents, want %d", collection, got, want)
	}
}

// waitSettled waits until the ingest consumer has acknowledged every
// message in the stream, so counts taken afterwards are final. NumPending
// can still read 0 right after a publish is acknowledged, so the check
// compares the ack floor with the stream's last sequence instead.
func (e *env) waitSettled() {
	e.t.Helper()
	ctx := context.Background()
	testenv.Eventually(e.t, 30*time.Second, func() bool {
		s, err := e.js.Stream(ctx, "EVENTS")
		if err != nil {
			return false
		}
		sinfo, err := s.Info(ctx)
		if err != nil {
			return false
		}
		c, err := e.js.Consumer(ctx, "EVENTS", "ingest")
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= sinfo.State.LastSeq && info.NumAckPending == 0
	}, "consumer has not acknowledged every event")
}

// find returns one document by key, with top-level fields in a map and
// embedded documents as bson.D.
func (e *env) find(collection, id string) map[string]any {
	e.t.Helper()
	var doc bson.D
	if err := e.db.Collection(collection).FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		e.t.Fatalf("find %s in %s: %v", id, collection, err)
	}
	m := make(map[string]any, len(doc))
	for _, el := range doc {
		m[el.Key] = el.Value
	}
	return m
}

func TestStoresEventWithTags(t *testing.T) {
	e := setup(t)
	e.startWorker()
	ack := e.publish(record("alice", "s1", "e1", "winston_logs", `{"level":"info","http.status_code":504,"big":9007199254740993}`))
	e.waitCount("winston_logs", nil, 1)

	m := e.find("winston_logs", "alice:e1")
	if m["user_id"] != "alice" || m["session_id"] != "s1" || m["event_id"] != "e1" {
		t.Fatalf("tags: got user %v session %v event %v, want alice s1 e1", m["user_id"], m["session_id"], m["event_id"])
	}
	if got := m["stream_seq"]; got != int64(ack.Sequence) {
		t.Fatalf("stream_seq: got %v, want %d", got, ack.Sequence)
	}
	stream, err := e.js.Stream(context.Background(), "EVENTS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	raw, err := stream.GetMsg(context.Background(), ack.Sequence)
	if err != nil {
		t.Fatalf("get message %d: %v", ack.Sequence, err)
	}
	received := m["received_at"].(bson.DateTime).Time()
	if want := raw.Time.Truncate(time.Millisecond); !received.Equal(want) {
		t.Fatalf("received_at: got %v, want the stream time %v", received, want)
	}
	data, err := events.DecodeData(m["data"])
	if err != nil {
		t.Fatalf("decode stored data: %v", err)
	}
	if want := `{"level":"info","http.status_code":504,"big":9007199254740993}`; string(data) != want {
		t.Fatalf("stored data: got %s, want %s", data, want)
	}
}
