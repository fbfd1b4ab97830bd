package client_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/client"
	"github.com/stewardhq/steward/internal/testenv"
)

// fakeClock returns a Now function that advances by one millisecond per
// call, starting at start.
func fakeClock(start time.Time) func() time.Time {
	var calls atomic.Int64
	return func() time.Time {
		return start.Add(time.Duration(calls.Add(1)-1) * time.Millisecond)
	}
}

func countDocs(t *testing.T, db *mongo.Database, collection string, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(collection).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatalf("count %s: %v", collection, err)
	}
	return n
}

func TestThousandEventsRecordedWhileServerDown(t *testing.T) {
	m := testenv.StartMongo(t)
	port := freePort(t)
	cfg := baseConfig(t, natsURL(port))
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	cfg.Now = fakeClock(start)
	c := newClient(t, cfg)

	sessions := make([]*client.Session, 2)
	for i := range sessions {
		s, err := c.StartSession()
		if err != nil {
			t.Fatalf("StartSession: %v", err)
		}
		sessions[i] = s
	}
	const records = 1000
	for n := range records {
		s := sessions[n%2]
		if _, err := s.Record("winston_logs", map[string]any{"n": n, "level": "info", "message": fmt.Sprintf("line %d", n)}); err != nil {
			t.Fatalf("Record %d: %v", n, err)
		}
	}
	for _, s := range sessions {
		if err := s.End(map[string]any{"reason": "quit"}); err != nil {
			t.Fatalf("End: %v", err)
		}
	}
	const total = records + 4 // two starts and two ends
	if st := c.Stats(); st.Pending != total || st.Connected {
		t.Fatalf("before NATS starts: got %d pending, connected %v; want %d pending, not connected", st.Pending, st.Connected, total)
	}

	n := startNATS(t, port, 0)
	startIngest(t, n.URL(), m)
	flush(t, c)
	if st := c.Stats(); st.Sent != total || st.Duplicates != 0 || st.Rejected != 0 || st.Pending != 0 {
		t.Fatalf("after Flush: got %+v, want %d sent and nothing else", st, total)
	}

	db := m.Database(t)
	user := bson.D{{Key: "user_id", Value: c.UserID()}}
	testenv.Eventually(t, 60*time.Second, func() bool {
		return countDocs(t, db, "winston_logs", user) >= records && countDocs(t, db, "sessions", user) == 2 &&
			countDocs(t, db, "sessions", append(user, bson.E{Key: "ended_at", Value: bson.D{{Key: "$exists", Value: true}}})) == 2
	}, "ingest never stored %d records and two ended sessions", records)
	if got := countDocs(t, db, "winston_logs", bson.D{}); got != records {
		t.Fatalf("stored records: got %d, want %d", got, records)
	}

	for i, s := range sessions {
		checkSessionOrder(t, db, c.UserID(), s.ID(), records/2)
		var doc struct {
			StartedAt  time.Time `bson:"started_at"`
			EndedAt    time.Time `bson:"ended_at"`
			AppName    string    `bson:"app_name"`
			AppVersion string    `bson:"app_version"`
		}
		err := db.Collection("sessions").FindOne(context.Background(), bson.D{{Key: "_id", Value: c.UserID() + ":" + s.ID()}}).Decode(&doc)
		if err != nil {
			t.Fatalf("find session %s: %v", s.ID(), err)
		}
		// The fake clock ticks once per event: the starts are events 0 and
		// 1, the records 2 to 1001, the ends 1002 and 1003.
		wantStart := start.Add(time.Duration(i) * time.Millisecond)
		wantEnd := start.Add(time.Duration(records+2+i) * time.Millisecond)
		if !doc.StartedAt.Equal(wantStart) || !doc.EndedAt.Equal(wantEnd) {
			t.Fatalf("session %d: got started_at %v ended_at %v, want %v and %v", i, doc.StartedAt, doc.EndedAt, wantStart, wantEnd)
		}
		if doc.AppName != "steward-test" || doc.AppVersion != "1.2.3" {
			t.Fatalf("session %d: got app %q %q, want steward-test 1.2.3", i, doc.AppName, doc.AppVersion)
		}
	}

	_, js := testenv.Connect(t, n.URL())
	envs := streamEvents(t, js, c.UserID())
	if len(envs) != total {
		t.Fatalf("events in the stream: got %d, want %d (each sent once)", len(envs), total)
	}
	checkOrder(t, envs)
}

// checkSessionOrder checks that a session's stored records, read in stream
// order, carry increasing "n" values.
func checkSessionOrder(t *testing.T, db *mongo.Database, user, session string, want int) {
	t.Helper()
	cur, err := db.Collection("winston_logs").Find(context.Background(),
		bson.D{{Key: "user_id", Value: user}, {Key: "session_id", Value: session}},
		options.Find().SetSort(bson.D{{Key: "stream_seq", Value: 1}}))
	if err != nil {
		t.Fatalf("find records of %s: %v", session, err)
	}
	var docs []struct {
		Data struct {
			N int64 `bson:"n"`
		} `bson:"data"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatalf("read records of %s: %v", session, err)
	}
	if len(docs) != want {
		t.Fatalf("session %s: got %d records, want %d", session, len(docs), want)
	}
	for i := 1; i < len(docs); i++ {
		if docs[i].Data.N <= docs[i-1].Data.N {
			t.Fatalf("session %s: record %d stored after record %d, want record order", session, docs[i].Data.N, docs[i-1].Data.N)
		}
	}
}

// copyDir copies a directory's files as they are at this moment: what a
// process killed now leaves on disk, because every Record has written its
// event to the file before returning.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func TestRestartAfterKill(t *testing.T) {
	m := testenv.StartMongo(t)
	n := startNATS(t, freePort(t), 0)
	startIngest(t, n.URL(), m)
	db := m.Database(t)
	_, js := testenv.Connect(t, n.URL())

	tests := []struct {
		name string
		// killedURL is where the first client publishes.
		killedURL string
		// wantSent and wantDuplicates are what the second client's sends
		// get from the stream.
		wantSent, wantDuplicates uint64
	}{
		{"killed before publishing", natsURL(freePort(t)), 50, 0},
		{"killed after the acknowledgements, before the cursor was written", n.URL(), 0, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t, tt.killedURL)
			cfg.Outbox.CursorInterval = time.Hour
			first := newClient(t, cfg)
			s, err := first.StartSession()
			if err != nil {
				t.Fatal(err)
			}
			for i := range 48 {
				if _, err := s.Record("generated_scripts", map[string]any{"n": i}); err != nil {
					t.Fatalf("Record %d: %v", i, err)
				}
			}
			if err := s.End(nil); err != nil {
				t.Fatal(err)
			}
			if tt.killedURL == n.URL() {
				flush(t, first)
			}
			killed := copyDir(t, cfg.Outbox.Dir)

			cfg.URL = n.URL()
			cfg.Outbox.Dir = killed
			second := newClient(t, cfg)
			if second.UserID() != first.UserID() {
				t.Fatalf("user id after restart: got %s, want %s", second.UserID(), first.UserID())
			}
			flush(t, second)
			if st := second.Stats(); st.Sent != tt.wantSent || st.Duplicates != tt.wantDuplicates {
				t.Fatalf("second client: got %d sent, %d duplicates; want %d and %d", st.Sent, st.Duplicates, tt.wantSent, tt.wantDuplicates)
			}

			user := bson.D{{Key: "user_id", Value: first.UserID()}}
			testenv.Eventually(t, 30*time.Second, func() bool {
				return countDocs(t, db, "generated_scripts", user) >= 48 && countDocs(t, db, "sessions", append(user, bson.E{Key: "ended_at", Value: bson.D{{Key: "$exists", Value: true}}})) == 1
			}, "ingest never stored 48 records and the ended session")
			if got := countDocs(t, db, "generated_scripts", user); got != 48 {
				t.Fatalf("stored records: got %d, want 48", got)
			}
			envs := streamEvents(t, js, first.UserID())
			if len(envs) != 50 {
				t.Fatalf("events in the stream: got %d, want 50", len(envs))
			}
			checkOrder(t, envs)
		})
	}
}
