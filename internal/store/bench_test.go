package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/store"
)

func BenchmarkRecordDocument(b *testing.B) {
	body := `{"spec_version":"1","id":"e1","kind":"record","user_id":"u1","session_id":"s1","type":"winston_logs","time":"2026-12-04T19:32:51Z",` +
		`"data":{"http.status_code":504,"level":"error","message":"` + strings.Repeat("m", 150) + `","service":"test-authoring-app","service.version":"1.0.0","test.id":"tc-0","timeoutMs":30000}}`
	ev, err := events.Decode("", []byte(body), 0)
	if err != nil {
		b.Fatal(err)
	}
	r := store.Receipt{ReceivedAt: time.Now(), Sequence: 1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := store.RecordDocument(ev, r); err != nil {
			b.Fatal(err)
		}
	}
}
