package testenv

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
)

// Types is a fixed set of data types for ingest.
type Types []string

// Allows reports whether t is in the set.
func (s Types) Allows(t string) bool { return slices.Contains(s, t) }

// Types returns the set.
func (s Types) Types() []string { return s }

// DefaultTypes are the data types of the default retention policy.
var DefaultTypes = Types{"codegen_recordings", "generated_scripts", "testcase_generator", "winston_logs"}

// Pipeline is one test's servers, clients and ingest configuration, with
// the events and dead-letter streams ("EVENTS", "DLQ") already created.
type Pipeline struct {
	T     *testing.T
	NATS  *devstack.NATS
	JS    jetstream.JetStream
	Mongo *Mongo
	DB    *mongo.Database
	Cfg   ingest.Config
}

// StartPipeline starts NATS and a store and creates the streams.
func StartPipeline(t *testing.T) *Pipeline {
	t.Helper()
	n := NATS(t)
	_, js := Connect(t, n.URL())
	m := StartMongo(t)
	cfg := ingest.Config{
		Stream:       config.Stream{EventsStream: "EVENTS", DeadLetterStream: "DLQ", DeadLetterMaxAge: 24 * time.Hour, DedupeWindow: time.Hour, Replicas: 1},
		Ingest:       config.Ingest{Consumer: "ingest", BatchSize: 100, MaxWait: 100 * time.Millisecond, MaxAckPending: 1000, MaxPayload: 1 << 20, AckWait: 3 * time.Second},
		StreamMaxAge: 24 * time.Hour,
		Types:        func() ingest.Types { return DefaultTypes },
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
	}
	e := &Pipeline{T: t, NATS: n, JS: js, Mongo: m, DB: m.Database(t), Cfg: cfg}
	ctx := context.Background()
	if _, err := streams.Ensure(ctx, js, streams.EventsConfig(cfg.Stream, cfg.Ingest.MaxPayload, cfg.StreamMaxAge), Logger(t)); err != nil {
		t.Fatalf("create events stream: %v", err)
	}
	if _, err := streams.Ensure(ctx, js, streams.DeadLetterConfig(cfg.Stream), Logger(t)); err != nil {
		t.Fatalf("create dead-letter stream: %v", err)
	}
	return e
}

// startIngest runs an ingest worker until the returned function is called.
func (e *Pipeline) StartIngest() (stop func()) {
	e.T.Helper()
	_, js := Connect(e.T, e.NATS.URL())
	w := ingest.New(js, e.Mongo.Store(e.T), e.Cfg, Logger(e.T))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.T.Errorf("ingest Run: %v", err)
			}
		})
	}
	e.T.Cleanup(stop)
	Eventually(e.T, 10*time.Second, func() bool {
		_, err := e.JS.Consumer(context.Background(), "EVENTS", "ingest")
		return err == nil
	}, "ingest consumer was not created")
	return stop
}

// Record returns a data record with a small payload that has a dotted key.
func Record(user, session, id, dataType string) events.Envelope {
	return events.Envelope{ID: id, Kind: events.KindRecord, UserID: user, SessionID: session, Type: dataType,
		Time: "2026-12-04T19:32:51.650Z", Data: json.RawMessage(`{"id":"` + id + `","http.status":200}`)}
}

// Session returns a session event of the given kind.
func Session(kind events.Kind, user, sessionID, id string) events.Envelope {
	return events.Envelope{ID: id, Kind: kind, UserID: user, SessionID: sessionID, Time: "2026-12-04T19:00:00Z",
		Data: json.RawMessage(`{"app_name":"test-author","os":"linux"}`)}
}

// publish sends an event the way a well-behaved client does.
func (e *Pipeline) Publish(env events.Envelope) *jetstream.PubAck {
	e.T.Helper()
	body, subject, err := events.Encode(env, 0)
	if err != nil {
		e.T.Fatalf("encode %s: %v", env.ID, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, env.UserID+":"+env.ID)
	return e.PublishMsg(msg)
}

func (e *Pipeline) PublishMsg(msg *nats.Msg) *jetstream.PubAck {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := e.JS.PublishMsg(ctx, msg)
	if err != nil {
		e.T.Fatalf("publish to %s: %v", msg.Subject, err)
	}
	return ack
}

// publishMixed publishes records of two types and session events for three
// users, and one malformed message, and returns the number of messages.
func (e *Pipeline) PublishMixed() int {
	e.T.Helper()
	n := 0
	for _, user := range []string{"alice", "bob", "carol"} {
		e.Publish(Session(events.KindSessionStarted, user, "s1", "start"))
		for i := range 20 {
			e.Publish(Record(user, "s1", user+"-log-"+string(rune('a'+i)), "winston_logs"))
			e.Publish(Record(user, "s1", user+"-script-"+string(rune('a'+i)), "generated_scripts"))
		}
		e.Publish(Session(events.KindSessionEnded, user, "s1", "end"))
		n += 42
	}
	bad := nats.NewMsg("steward.events.bob.s1.record.winston_logs")
	bad.Data = []byte(`{"spec_version":"1","id":"broken"`)
	e.PublishMsg(bad)
	return n + 1
}

// waitSettled waits until ingest has acknowledged every event in the
// stream. It checks the ack floor against the stream's last sequence,
// because the consumer's pending count can lag a publish for a moment.
func (e *Pipeline) WaitSettled() {
	e.T.Helper()
	ctx := context.Background()
	s, err := e.JS.Stream(ctx, "EVENTS")
	if err != nil {
		e.T.Fatalf("stream: %v", err)
	}
	last := s.CachedInfo().State.LastSeq
	Eventually(e.T, 30*time.Second, func() bool {
		c, err := e.JS.Consumer(ctx, "EVENTS", "ingest")
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
func (e *Pipeline) Snapshot() map[string]string {
	e.T.Helper()
	ctx := context.Background()
	names, err := e.DB.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		e.T.Fatalf("list collections: %v", err)
	}
	out := map[string]string{}
	for _, name := range names {
		if name == store.AuditCollection {
			continue
		}
		cur, err := e.DB.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			e.T.Fatalf("find in %s: %v", name, err)
		}
		for cur.Next(ctx) {
			elems, err := cur.Current.Elements()
			if err != nil {
				e.T.Fatalf("read document of %s: %v", name, err)
			}
			fields := make([]string, 0, len(elems))
			for _, el := range elems {
				fields = append(fields, el.Key()+"="+el.Value().String())
			}
			sort.Strings(fields)
			out[name+"/"+cur.Current.Lookup("_id").StringValue()] = strings.Join(fields, " ")
		}
		if err := cur.Err(); err != nil {
			e.T.Fatalf("find in %s: %v", name, err)
		}
	}
	return out
}

// CompareSnapshots fails the test for every document that differs.
func CompareSnapshots(t *testing.T, got, want map[string]string) {
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
