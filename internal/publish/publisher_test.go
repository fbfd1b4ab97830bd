package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/publish"
	"github.com/stewardhq/steward/internal/testenv"
)

func TestPublisherWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := "nats://127.0.0.1:" + strconv.Itoa(port)

	// The temporary outbox goes below TMPDIR, which must be empty again
	// after Flush.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	target := publish.Target{User: "alice", Session: "s1", Type: "winston_logs", Timeout: 200 * time.Millisecond}
	p, err := publish.NewPublisher(config.NATS{URL: url}, target, testenv.Logger(t))
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	items := []publish.Item{
		{ID: "a1", Origin: "app.log:1", Time: time.Now(), Data: json.RawMessage(`{"n":1}`)},
		{ID: "a2", Origin: "app.log:2", Err: errors.New("line is not a JSON object")},
		{ID: "a3", Origin: "app.log:3", Time: time.Now(), Data: json.RawMessage(`[3]`)},
		{ID: "a4", Origin: "app.log:4", Time: time.Now(), Data: json.RawMessage(`{"n":4}`)},
	}
	for _, it := range items {
		if err := p.Add(context.Background(), it); err != nil {
			t.Fatalf("Add %s: %v", it.Origin, err)
		}
	}
	sum, err := p.Flush(context.Background())
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}

	if sum.Sent != 0 || len(sum.Rejected) != 2 || len(sum.Unacknowledged) != 2 {
		t.Fatalf("summary: got %+v, want 0 sent, 2 rejected, 2 unacknowledged", sum)
	}
	if got := sum.Rejected[0].Origin + "," + sum.Rejected[1].Origin; got != "app.log:2,app.log:3" {
		t.Fatalf("rejected: got %s, want app.log:2,app.log:3", got)
	}
	if got := sum.Unacknowledged[0].Origin + "," + sum.Unacknowledged[1].Origin; got != "app.log:1,app.log:4" {
		t.Fatalf("unacknowledged: got %s, want app.log:1,app.log:4 in input order", got)
	}
	if reason := sum.Unacknowledged[0].Reason; !strings.Contains(reason, url) {
		t.Fatalf("reason %q does not name the server %s", reason, url)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "steward-publish-outbox-*")); len(left) != 0 {
		t.Fatalf("temporary outbox after Flush: got %v, want it removed", left)
	}
}
