package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/replay"
	"github.com/stewardhq/steward/internal/testenv"
)

// restore replays f into the test's database through a new store and
// returns the summary.
func (e *env) restore(f replay.Filter) *replay.Summary {
	e.T.Helper()
	w := ingest.NewWriter(e.Mongo.Store(e.T), 0, func() ingest.Types { return defaultTypes })
	r := replay.NewRestorer(w, replay.RestoreConfig{BatchSize: 50}, testenv.Logger(e.T))
	sum, err := replay.Run(context.Background(), e.JS, "EVENTS", f, r, nil)
	if err != nil {
		e.T.Fatalf("restore: %v", err)
	}
	sum.Restore = r.Counts()
	return sum
}

// jsonLines replays f as JSON lines and returns the lines and the summary.
func (e *env) jsonLines(f replay.Filter) ([]string, *replay.Summary) {
	e.T.Helper()
	var out bytes.Buffer
	sum, err := replay.Run(context.Background(), e.JS, "EVENTS", f, replay.NewJSONLines(&out), nil)
	if err != nil {
		e.T.Fatalf("replay %+v: %v", f, err)
	}
	var lines []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sum
}

func TestRestoreAfterDrop(t *testing.T) {
	e := setup(t)
	stop := e.StartIngest()
	total := e.PublishMixed()
	e.WaitSettled()
	before := e.Snapshot()
	stop()

	if err := e.DB.Drop(context.Background()); err != nil {
		t.Fatalf("drop database: %v", err)
	}
	sum := e.restore(replay.Filter{})
	if sum.Events != uint64(total) {
		t.Errorf("events replayed: got %d, want %d", sum.Events, total)
	}
	// 120 records and 6 session events; the malformed message is rejected.
	if got := sum.Restore; got.Stored != 126 || got.Duplicates != 0 || got.Rejected[events.ReasonMalformed] != 1 || got.Failed != 0 {
		t.Errorf("restore counts: got %+v, want 126 stored and 1 malformed", got)
	}
	compareSnapshots(t, e.Snapshot(), before)

	// Restoring again finds every record and changes nothing.
	again := e.restore(replay.Filter{})
	if got := again.Restore; got.Duplicates != 120 || got.Stored != 6 {
		t.Errorf("second restore: got %+v, want 120 duplicates and the 6 session upserts", got)
	}
	compareSnapshots(t, e.Snapshot(), before)
}

func TestRestoredDocumentKeepsReceiveTime(t *testing.T) {
	e := setup(t)
	ack := e.Publish(record("alice", "s1", "e1", "winston_logs"))
	e.restore(replay.Filter{})

	var doc struct {
		ReceivedAt time.Time `bson:"received_at"`
		StreamSeq  int64     `bson:"stream_seq"`
	}
	if err := e.DB.Collection("winston_logs").FindOne(context.Background(), bson.D{{Key: "_id", Value: "alice:e1"}}).Decode(&doc); err != nil {
		t.Fatalf("find restored document: %v", err)
	}
	s, err := e.JS.Stream(context.Background(), "EVENTS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	msg, err := s.GetMsg(context.Background(), ack.Sequence)
	if err != nil {
		t.Fatalf("get message %d: %v", ack.Sequence, err)
	}
	if want := msg.Time.Truncate(time.Millisecond); !doc.ReceivedAt.Equal(want) {
		t.Errorf("received_at: got %v, want the stream time %v", doc.ReceivedAt, want)
	}
	if doc.StreamSeq != int64(ack.Sequence) {
		t.Errorf("stream_seq: got %d, want %d", doc.StreamSeq, ack.Sequence)
	}
}

func TestRestoreWhileIngestRuns(t *testing.T) {
	e := setup(t)
	e.StartIngest()
	const n = 600
	for i := range n / 2 {
		e.Publish(record(fmt.Sprint("user", i%5), "s1", fmt.Sprint("e", i), "winston_logs"))
	}
	done := make(chan *replay.Summary, 1)
	go func() { done <- e.restore(replay.Filter{}) }()
	for i := n / 2; i < n; i++ {
		e.Publish(record(fmt.Sprint("user", i%5), "s1", fmt.Sprint("e", i), "winston_logs"))
	}
	sum := <-done
	e.WaitSettled()

	if got := sum.Restore.Stored + sum.Restore.Duplicates; got != sum.Events {
		t.Errorf("restore: got %d stored or duplicate of %d events, want all", got, sum.Events)
	}
	count, err := e.DB.Collection("winston_logs").CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	if count != n {
		t.Fatalf("documents: got %d, want %d", count, n)
	}
}

func TestReplayOneUserAsJSONLines(t *testing.T) {
	e := setup(t)
	e.PublishMixed()
	lines, sum := e.jsonLines(replay.Filter{User: "alice"})
	if len(lines) != 42 || sum.Events != 42 {
		t.Fatalf("lines: got %d (summary %d), want 42", len(lines), sum.Events)
	}
	s, err := e.JS.Stream(context.Background(), "EVENTS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	for _, l := range lines {
		var line struct {
			Seq     uint64          `json:"seq"`
			Time    time.Time       `json:"time"`
			Subject string          `json:"subject"`
			Event   json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		if !strings.HasPrefix(line.Subject, "steward.events.alice.") {
			t.Errorf("line %d: got subject %s, want one of alice's", line.Seq, line.Subject)
		}
		orig, err := s.GetMsg(context.Background(), line.Seq)
		if err != nil {
			t.Fatalf("get message %d: %v", line.Seq, err)
		}
		if string(line.Event) != string(orig.Data) {
			t.Errorf("line %d: got event %s, want the original bytes %s", line.Seq, line.Event, orig.Data)
		}
		if !line.Time.Equal(orig.Time) {
			t.Errorf("line %d: got time %v, want %v", line.Seq, line.Time, orig.Time)
		}
	}
}

func TestReplayFilters(t *testing.T) {
	e := setup(t)
	// Sequences 1-42 are alice's, 43-84 bob's, 85-126 carol's, and 127 is
	// a malformed message on one of bob's subjects.
	e.PublishMixed()
	timeOf := func(seq uint64) time.Time {
		s, _ := e.JS.Stream(context.Background(), "EVENTS")
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		return m.Time
	}
	tests := []struct {
		name        string
		filter      replay.Filter
		want        uint64
		first, last uint64
	}{
		{"everything", replay.Filter{}, 127, 1, 127},
		{"one user", replay.Filter{User: "bob"}, 43, 43, 127},
		{"one type", replay.Filter{Type: "winston_logs"}, 61, 2, 127},
		{"user and type", replay.Filter{User: "alice", Type: "generated_scripts"}, 20, 3, 41},
		{"session of every user", replay.Filter{Session: "s1"}, 127, 1, 127},
		{"sequence range", replay.Filter{FromSeq: 10, ToSeq: 19}, 10, 10, 19},
		{"user in a sequence range", replay.Filter{User: "bob", ToSeq: 50}, 8, 43, 50},
		{"since", replay.Filter{Since: timeOf(85)}, 43, 85, 127},
		{"until", replay.Filter{Until: timeOf(42)}, 42, 1, 42},
		{"time range", replay.Filter{Since: timeOf(43), Until: timeOf(84)}, 42, 43, 84},
		{"nothing", replay.Filter{User: "dave"}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sum := e.jsonLines(tt.filter)
			if sum.Events != tt.want || sum.FirstSeq != tt.first || sum.LastSeq != tt.last {
				t.Fatalf("summary: got %d events from %d to %d, want %d from %d to %d", sum.Events, sum.FirstSeq, sum.LastSeq, tt.want, tt.first, tt.last)
			}
		})
	}
}

func TestReplayDigests(t *testing.T) {
	e := setup(t)
	e.PublishMixed()
	_, first := e.jsonLines(replay.Filter{ToSeq: 100})
	_, second := e.jsonLines(replay.Filter{ToSeq: 100})
	if first.Digest != second.Digest {
		t.Errorf("digests of one range: got %s and %s, want equal", first.Digest, second.Digest)
	}
	restored := e.restore(replay.Filter{ToSeq: 100})
	if restored.Digest != first.Digest {
		t.Errorf("digest of a restore: got %s, want the JSON-lines digest %s", restored.Digest, first.Digest)
	}
	_, other := e.jsonLines(replay.Filter{FromSeq: 2, ToSeq: 100})
	if other.Digest == first.Digest {
		t.Errorf("digests of two ranges: got %s for both, want different", first.Digest)
	}
}

func TestFilterValidate(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		filter replay.Filter
		ok     bool
	}{
		{"empty", replay.Filter{}, true},
		{"until before since", replay.Filter{Since: now, Until: now.Add(-time.Second)}, false},
		{"to below from", replay.Filter{FromSeq: 5, ToSeq: 4}, false},
		{"invalid type", replay.Filter{Type: "Logs"}, false},
		{"one sequence", replay.Filter{FromSeq: 5, ToSeq: 5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.filter.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate: got %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestJSONLinesFormat(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 32, 51, 650000000, time.UTC)
	tests := []struct {
		name string
		data string
		want string
	}{
		{"original bytes", `{"id":"e1", "data":{"a":1}}`, `{"seq":7,"time":"2026-12-04T19:32:51.65Z","subject":"s.x","event":{"id":"e1", "data":{"a":1}}}`},
		{"line breaks compacted", "{\"id\":\"e1\",\n\"data\":{}}\n", `{"seq":7,"time":"2026-12-04T19:32:51.65Z","subject":"s.x","event":{"id":"e1","data":{}}}`},
		{"not json", `{"id":`, `{"seq":7,"time":"2026-12-04T19:32:51.65Z","subject":"s.x","raw_base64":"eyJpZCI6"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			j := replay.NewJSONLines(&out)
			if err := j.Add(context.Background(), replay.Event{Seq: 7, Time: at, Subject: "s.x", Data: []byte(tt.data)}); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if err := j.Flush(context.Background()); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if got := out.String(); got != tt.want+"\n" {
				t.Fatalf("line: got %s, want %s", got, tt.want)
			}
		})
	}
}
