package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/store"
)

func TestRecordDocumentTooLarge(t *testing.T) {
	// 17 MiB of payload: larger than any stored document may be.
	body := `{"spec_version":"1","id":"e1","kind":"record","user_id":"u1","session_id":"s1","type":"codegen_recordings","time":"2026-12-04T19:32:51Z","data":{"blob":"` + strings.Repeat("x", 17<<20) + `"}}`
	ev, err := events.Decode("", []byte(body), 64<<20)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	_, err = store.RecordDocument(ev, store.Receipt{ReceivedAt: time.Now(), Sequence: 1})
	if r, _ := events.ReasonOf(err); r != events.ReasonTooLarge {
		t.Fatalf("RecordDocument: got %v, want reason %s", err, events.ReasonTooLarge)
	}
}

func TestRecordDocumentIsPureFunctionOfMessage(t *testing.T) {
	body := `{"spec_version":"1","id":"e1","kind":"record","user_id":"u1","session_id":"s1","type":"winston_logs","time":"2030-01-01T00:00:00+05:00","data":{"a.b":1}}`
	received := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	var docs []string
	for range 2 {
		ev, err := events.Decode("", []byte(body), 0)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		raw, err := store.RecordDocument(ev, store.Receipt{ReceivedAt: received, Sequence: 7})
		if err != nil {
			t.Fatalf("RecordDocument: %v", err)
		}
		docs = append(docs, raw.String())
	}
	if docs[0] != docs[1] {
		t.Fatalf("documents of one message differ:\n%s\n%s", docs[0], docs[1])
	}
	for _, want := range []string{`"_id": "u1:e1"`, `"received_at": {"$date":{"$numberLong":"1796410800000"}}`, `"a%2Eb"`} {
		if !strings.Contains(docs[0], want) {
			t.Fatalf("document %s lacks %s", docs[0], want)
		}
	}
}
