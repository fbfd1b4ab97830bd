package reaper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/testenv"
)

const day = 24 * time.Hour

// baseTime is the fake "now" of the tests, in the past of the machine's
// clock so that no test depends on the real date.
var baseTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *clock { return &clock{now: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// fixedPolicy is a PolicySource that always returns one policy.
type fixedPolicy struct{ p *policy.Policy }

func (f fixedPolicy) Current() *policy.Policy { return f.p }

// parsePolicy parses a session-config.json text.
func parsePolicy(t *testing.T, text string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse([]byte(text), "test")
	if err != nil {
		t.Fatalf("parse policy %s: %v", text, err)
	}
	return p
}

// recorder keeps the JSON log records of a test.
type recorder struct {
	mu    sync.Mutex
	lines [][]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.lines = append(r.lines, bytes.Clone(p))
	r.mu.Unlock()
	return len(p), nil
}

// records returns the records whose message starts with prefix.
func (r *recorder) records(t *testing.T, prefix string) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, line := range r.lines {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("decode log record %s: %v", line, err)
		}
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, rec)
		}
	}
	return out
}

func (r *recorder) count(t *testing.T, prefix string) int {
	t.Helper()
	return len(r.records(t, prefix))
}

// newLogger returns a logger that writes to the test log and to a recorder.
func newLogger(t *testing.T) (*slog.Logger, *recorder) {
	t.Helper()
	rec := &recorder{}
	h := slog.NewMultiHandler(
		slog.NewJSONHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}),
		testenv.Logger(t).Handler(),
	)
	return slog.New(h), rec
}

// doc is a stored data document, reduced to what cleanup looks at.
type doc struct {
	id         string
	user       string
	session    string
	receivedAt time.Time
	clientTime time.Time
}

// insert stores docs in collection with the indexes that ingest creates.
func insert(t *testing.T, st *store.Store, collection string, docs ...doc) {
	t.Helper()
	ctx := context.Background()
	if err := st.EnsureDataCollection(ctx, collection); err != nil {
		t.Fatalf("ensure collection %s: %v", collection, err)
	}
	batch := make([]any, 0, len(docs))
	for i, d := range docs {
		session := d.session
		if session == "" {
			session = "s1"
		}
		client := d.clientTime
		if client.IsZero() {
			client = d.receivedAt
		}
		batch = append(batch, bson.D{
			{Key: "_id", Value: d.user + ":" + d.id},
			{Key: "user_id", Value: d.user},
			{Key: "session_id", Value: session},
			{Key: "event_id", Value: d.id},
			{Key: store.FieldClientTime, Value: client},
			{Key: store.FieldReceivedAt, Value: d.receivedAt},
			{Key: store.FieldStreamSeq, Value: int64(i + 1)},
			{Key: store.FieldData, Value: bson.D{{Key: "n", Value: i}}},
		})
	}
	if _, err := st.Database().Collection(collection).InsertMany(ctx, batch); err != nil {
		t.Fatalf("insert %d documents into %s: %v", len(docs), collection, err)
	}
}

// aged returns n documents of user received at base minus each of the ages.
func aged(user string, base time.Time, ages ...time.Duration) []doc {
	docs := make([]doc, len(ages))
	for i, age := range ages {
		docs[i] = doc{id: fmt.Sprintf("e%d", i), user: user, receivedAt: base.Add(-age)}
	}
	return docs
}

func count(t *testing.T, db *mongo.Database, collection string, filter bson.D) int64 {
	t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := db.Collection(collection).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatalf("count %s: %v", collection, err)
	}
	return n
}

// ids returns the sorted _id values of a collection.
func ids(t *testing.T, db *mongo.Database, collection string) []string {
	t.Helper()
	cur, err := db.Collection(collection).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("find in %s: %v", collection, err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatalf("read %s: %v", collection, err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

// auditDoc is an audit document as the tests read it.
type auditDoc struct {
	Kind          string    `bson:"kind"`
	TickID        string    `bson:"tick_id"`
	Replica       string    `bson:"replica"`
	StartedAt     time.Time `bson:"started_at"`
	EndedAt       time.Time `bson:"ended_at"`
	AsOf          time.Time `bson:"as_of"`
	DryRun        bool      `bson:"dry_run"`
	Enabled       bool      `bson:"enabled"`
	PolicyVersion string    `bson:"policy_version"`
	PolicySource  string    `bson:"policy_source"`
	Total         int64     `bson:"total"`
	Errors        int       `bson:"errors"`
	StreamPurged  int64     `bson:"stream_purged"`
	Collections   []struct {
		Collection    string    `bson:"collection"`
		Deleted       *int64    `bson:"deleted"`
		WouldDelete   *int64    `bson:"would_delete"`
		Batches       int       `bson:"batches"`
		Cutoff        time.Time `bson:"cutoff"`
		RetentionDays float64   `bson:"retention_days"`
		Error         *string   `bson:"error"`
	} `bson:"collections"`
}

// audits returns the audit documents of cleanup runs in insertion order.
func audits(t *testing.T, db *mongo.Database) []auditDoc {
	t.Helper()
	cur, err := db.Collection(store.AuditCollection).Find(context.Background(), bson.D{{Key: "kind", Value: reaper.AuditKind}})
	if err != nil {
		t.Fatalf("find audit documents: %v", err)
	}
	var docs []auditDoc
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatalf("read audit documents: %v", err)
	}
	return docs
}

// collectionCounts returns the deleted (or would_delete) count of each
// collection of an audit document.
func (a auditDoc) collectionCounts() map[string]int64 {
	out := make(map[string]int64, len(a.Collections))
	for _, c := range a.Collections {
		switch {
		case c.Deleted != nil:
			out[c.Collection] = *c.Deleted
		case c.WouldDelete != nil:
			out[c.Collection] = *c.WouldDelete
		}
	}
	return out
}

// reportCounts returns the Deleted count of each collection of a report.
func reportCounts(rep reaper.Report) map[string]int64 {
	out := make(map[string]int64, len(rep.Collections))
	for _, c := range rep.Collections {
		out[c.Collection] = c.Deleted
	}
	return out
}

// newReaper returns a reaper without NATS for RunOnce.
func newReaper(t *testing.T, st *store.Store, cfg reaper.Config, p reaper.PolicySource, log *slog.Logger) *reaper.Reaper {
	t.Helper()
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = "test-replica"
	}
	r, err := reaper.New(nil, st, cfg, p, log)
	if err != nil {
		t.Fatalf("new reaper: %v", err)
	}
	return r
}
