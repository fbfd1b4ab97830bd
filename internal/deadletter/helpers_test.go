package deadletter_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
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
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

type staticTypes []string

func (s staticTypes) Allows(t string) bool { return slices.Contains(s, t) }
func (s staticTypes) Types() []string      { return s }

var defaultTypes = staticTypes{"codegen_recordings", "generated_scripts", "testcase_generator", "winston_logs"}

// env is one test's servers, clients and ingest configuration.
type env struct {
	t     *testing.T
	nats  *devstack.NATS
	js    jetstream.JetStream
	mongo *testenv.Mongo
	db    *mongo.Database
	cfg   ingest.Config
}

func setup(t *testing.T) *env {
	t.Helper()
	n := testenv.NATS(t)
	_, js := testenv.Connect(t, n.URL())
	m := testenv.StartMongo(t)
	cfg := ingest.Config{
		Stream:       config.Stream{EventsStream: "EVENTS", DeadLetterStream: "DLQ", DeadLetterMaxAge: 24 * time.Hour, DedupeWindow: time.Hour, Replicas: 1},
		Ingest:       config.Ingest{Consumer: "ingest", BatchSize: 100, MaxWait: 100 * time.Millisecond, MaxAckPending: 1000, MaxPayload: 1 << 20, AckWait: 3 * time.Second},
		StreamMaxAge: 24 * time.Hour,
		Types:        func() ingest.Types { return defaultTypes },
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
	}
	e := &env{t: t, nats: n, js: js, mongo: m, db: m.Database(t), cfg: cfg}
	ctx := context.Background()
	if _, err := streams.Ensure(ctx, js, streams.EventsConfig(cfg.Stream, cfg.Ingest.MaxPayload, cfg.StreamMaxAge), testenv.Logger(t)); err != nil {
		t.Fatalf("create events stream: %v", err)
	}
	if _, err := streams.Ensure(ctx, js, streams.DeadLetterConfig(cfg.Stream), testenv.Logger(t)); err != nil {
		t.Fatalf("create dead-letter stream: %v", err)
	}
	return e
}

// startIngest runs an ingest worker until the returned function is called.
func (e *env) startIngest() (stop func()) {
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
				e.t.Errorf("ingest Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	testenv.Eventually(e.t, 10*time.Second, func() bool {
		_, err := e.js.Consumer(context.Background(), "EVENTS", "ingest")
		return err == nil
	}, "ingest consumer was not created")
	return stop
}

func record(user, session, id, dataType string) events.Envelope {
	return events.Envelope{ID: id, Kind: events.KindRecord, UserID: user, SessionID: session, Type: dataType,
		Time: "2026-12-04T19:32:51.650Z", Data: json.RawMessage(`{"id":"` + id + `","http.status":200}`)}
}

func session(kind events.Kind, user, session, id string) events.Envelope {
	return events.Envelope{ID: id, Kind: kind, UserID: user, SessionID: session, Time: "2026-12-04T19:00:00Z",
		Data: json.RawMessage(`{"app_name":"test-author","os":"linux"}`)}
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

// publishMixed publishes records of two types and session events for three
// users, and one malformed message, and returns the number of messages.
func (e *env) publishMixed() int {
	e.t.Helper()
	n := 0
	for _, user := range []string{"alice", "bob", "carol"} {
		e.publish(session(events.KindSessionStarted, user, "s1", "start"))
		for i := range 20 {
			e.publish(record(user, "s1", user+"-log-"+string(rune('a'+i)), "winston_logs"))
			e.publish(record(user, "s1", user+"-script-"+string(rune('a'+i)), "generated_scripts"))
		}
		e.publish(session(events.KindSessionEnded, user, "s1", "end"))
		n += 42
	}
	bad := nats.NewMsg("steward.events.bob.s1.record.winston_logs")
	bad.Data = []byte(`{"spec_version":"1","id":"broken"`)
	e.publishMsg(bad)
	return n + 1
}

// waitSettled waits until ingest has acknowledged every event in the
// stream. It checks the ack floor against the stream's last sequence,
// because the consumer's pending count can lag a publish for a moment.
func (e *env) waitSettled() {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, "EVENTS")
	if err != nil {
		e.t.Fatalf("stream: %v", err)
	}
	last := s.CachedInfo().State.LastSeq
	testenv.Eventually(e.t, 30*time.Second, func() bool {
		c, err := e.js.Consumer(ctx, "EVENTS", "ingest")
		if err != nil {
			return false
		}
		info := c.CachedInfo()
		return info.AckFloor.Stream >= last && info.NumAckPending == 0
	}, "ingest never acknowledged every event up to sequence %d", last)
}

// snapshot returns every document of the data collections and sessions,
// keyed by "collection/_id". Each document becomes its top-level fields in
// extended JSON, sorted by name, because upserts of session events applied
// in another order may order the fields differently.
func (e *env) snapshot() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	names, err := e.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		e.t.Fatalf("list collections: %v", err)
	}
	out := map[string]string{}
	for _, name := range names {
		if name == store.AuditCollection {
			continue
		}
		cur, err := e.db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			e.t.Fatalf("find in %s: %v", name, err)
		}
		for cur.Next(ctx) {
			elems, err := cur.Current.Elements()
			if err != nil {
				e.t.Fatalf("read document of %s: %v", name, err)
			}
			fields := make([]string, 0, len(elems))
			for _, el := range elems {
				fields = append(fields, el.Key()+"="+el.Value().String())
			}
			sort.Strings(fields)
			out[name+"/"+cur.Current.Lookup("_id").StringValue()] = strings.Join(fields, " ")
		}
		if err := cur.Err(); err != nil {
			e.t.Fatalf("find in %s: %v", name, err)
		}
	}
	return out
}

// compareSnapshots fails the test for every document that differs.
func compareSnapshots(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("documents: got %d, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("document %s: missing", id)
			continue
		}
		if g != w {
			t.Errorf("document %s:\n got %s\nwant %s", id, g, w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("document %s: got one, want none", id)
		}
	}
}
