package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/testenv"
)

// storeEvents writes n records and one session start for user, with stream
// sequences 1 to n+1.
func storeEvents(t *testing.T, st *store.Store, user string, n int) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	docs := make([]bson.Raw, 0, n)
	for i := range n {
		body := fmt.Sprintf(`{"spec_version":"1","id":"e%d","kind":"record","user_id":%q,"session_id":"s1","type":"winston_logs","time":"2026-12-04T10:00:00Z","data":{"n":%d}}`, i, user, i)
		ev, err := events.Decode("", []byte(body), 0)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		// Every second document shares its receive time with the one
		// before, so slices split groups of equal times.
		doc, err := store.RecordDocument(ev, store.Receipt{ReceivedAt: base.Add(time.Duration(i/2) * time.Second), Sequence: uint64(i + 1)})
		if err != nil {
			t.Fatalf("RecordDocument: %v", err)
		}
		docs = append(docs, doc)
	}
	if _, err := st.InsertRecords(ctx, "winston_logs", docs); err != nil {
		t.Fatalf("insert: %v", err)
	}
	body := fmt.Sprintf(`{"spec_version":"1","id":"start","kind":"session.started","user_id":%q,"session_id":"s1","time":"2026-12-04T10:00:00Z"}`, user)
	ev, err := events.Decode("", []byte(body), 0)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	model := store.SessionUpdate(ev, store.Receipt{ReceivedAt: base, Sequence: uint64(n + 1)})
	if _, err := st.UpsertSessions(ctx, []mongo.WriteModel{model}); err != nil {
		t.Fatalf("upsert session: %v", err)
	}
}

func TestDeleteUserDocuments(t *testing.T) {
	tests := []struct {
		name         string
		collection   string
		maxSeq       uint64
		batch        int
		wantDeleted  int64
		wantLeftUser int64
	}{
		{"all in one slice", "winston_logs", 0, 0, 23, 0},
		{"in slices of 5", "winston_logs", 0, 5, 23, 0},
		{"in slices of 1", "winston_logs", 0, 1, 23, 0},
		{"up to a sequence", "winston_logs", 10, 4, 10, 13},
		{"sessions", "sessions", 0, 2, 1, 0},
		{"sessions first seen later", "sessions", 23, 2, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testenv.StartMongo(t)
			st := m.Store(t)
			storeEvents(t, st, "alice", 23)
			storeEvents(t, st, "bob", 7)
			ctx := context.Background()

			deleted, err := st.DeleteUserDocuments(ctx, tt.collection, "alice", tt.maxSeq, tt.batch)
			if err != nil {
				t.Fatalf("DeleteUserDocuments: %v", err)
			}
			if deleted != tt.wantDeleted {
				t.Errorf("deleted: got %d, want %d", deleted, tt.wantDeleted)
			}
			db := m.Database(t)
			left, err := db.Collection(tt.collection).CountDocuments(ctx, scope.User("alice").Filter())
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			if left != tt.wantLeftUser {
				t.Errorf("alice's documents left: got %d, want %d", left, tt.wantLeftUser)
			}
			bobs, err := db.Collection(tt.collection).CountDocuments(ctx, scope.User("bob").Filter())
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			wantBob := int64(7)
			if tt.collection == store.SessionsCollection {
				wantBob = 1
			}
			if bobs != wantBob {
				t.Errorf("bob's documents: got %d, want %d", bobs, wantBob)
			}
		})
	}
}

func TestTombstones(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	ctx := context.Background()
	now := time.Now()
	if err := st.PutTombstone(ctx, "alice", "EVENTS", 40, now); err != nil {
		t.Fatalf("PutTombstone: %v", err)
	}
	// A lower sequence does not shrink the erased range.
	if err := st.PutTombstone(ctx, "alice", "EVENTS", 30, now); err != nil {
		t.Fatalf("PutTombstone: %v", err)
	}
	got, err := st.Erasures(ctx, []scope.User{"alice", "bob"})
	if err != nil {
		t.Fatalf("Erasures: %v", err)
	}
	if len(got) != 1 || got["alice"] != 40 {
		t.Fatalf("erasures: got %v, want alice up to 40 only", got)
	}
}
