package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward/client"
	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

func TestOutboxFullRejectsNewEvents(t *testing.T) {
	tests := []struct {
		name   string
		outbox outbox.Config
	}{
		{"max events", outbox.Config{MaxMessages: 10}},
		{"max bytes", outbox.Config{MaxBytes: 4096}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			cfg := baseConfig(t, natsURL(port))
			tt.outbox.Dir = cfg.Outbox.Dir
			cfg.Outbox = tt.outbox
			cfg.MaxEventBytes = 2048
			logs := &logBuffer{}
			cfg.Logger = logs.logger()
			c := newClient(t, cfg)
			s, err := c.StartSession()
			if err != nil {
				t.Fatal(err)
			}

			recorded := 1
			var full error
			for range 100 {
				_, err := s.Record("winston_logs", map[string]any{"n": recorded, "message": strings.Repeat("m", 200)})
				if err != nil {
					full = err
					break
				}
				recorded++
			}
			if !errors.Is(full, client.ErrOutboxFull) {
				t.Fatalf("Record past the bound: got %v, want ErrOutboxFull", full)
			}
			var fe *client.OutboxFullError
			if !errors.As(full, &fe) {
				t.Fatalf("error %v: want an *OutboxFullError", full)
			}
			if fe.Messages != recorded {
				t.Fatalf("OutboxFullError: got %d events held, want %d", fe.Messages, recorded)
			}
			if fe.Messages < fe.MaxMessages && fe.Bytes+fe.Size <= fe.MaxBytes {
				t.Fatalf("OutboxFullError %+v: want one of the bounds reached", fe)
			}
			for _, want := range []string{fmt.Sprintf("%d of max %d messages", fe.Messages, fe.MaxMessages), fmt.Sprintf("%d of max %d bytes", fe.Bytes, fe.MaxBytes)} {
				if !strings.Contains(full.Error(), want) {
					t.Fatalf("error %q does not contain %q", full, want)
				}
			}
			// Further rejections are counted, not logged one by one.
			for range 3 {
				if _, err := s.Record("winston_logs", map[string]any{"n": -1}); !errors.Is(err, client.ErrOutboxFull) {
					t.Fatalf("Record while full: got %v, want ErrOutboxFull", err)
				}
			}
			if got := logs.count("outbox full"); got != 1 {
				t.Fatalf("log records about the full outbox: got %d, want 1", got)
			}

			n := startNATS(t, port, 0)
			js := provision(t, n.URL(), 1<<20)
			flush(t, c)
			if _, err := s.Record("winston_logs", map[string]any{"n": recorded}); err != nil {
				t.Fatalf("Record after the outbox drained: got %v, want success", err)
			}
			flush(t, c)
			if got := logs.count("outbox accepts events again"); got != 1 {
				t.Fatalf("log records about the outbox accepting again: got %d, want 1", got)
			}
			envs := streamEvents(t, js, c.UserID())
			if len(envs) != recorded+1 {
				t.Fatalf("events in the stream: got %d, want %d (the rejected ones never stored)", len(envs), recorded+1)
			}
			checkOrder(t, envs)
		})
	}
}

func TestTooLargeEventRejected(t *testing.T) {
	port := freePort(t)
	n := startNATS(t, port, 4096)
	js := provision(t, n.URL(), 1<<20)
	cfg := baseConfig(t, n.URL())
	cfg.MaxEventBytes = 8192
	c := newClient(t, cfg)
	waitConnected(t, c)
	s, err := c.StartSession()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		size  int
		wants []string
	}{
		{"over MaxEventBytes", 9000, []string{"the limit is 8192 bytes"}},
		{"over the server's max payload", 5000, []string{"max payload is 4096 bytes", "it is 5"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Record("winston_logs", map[string]any{"n": 2 * i}); err != nil {
				t.Fatalf("Record before: %v", err)
			}
			_, err := s.Record("winston_logs", map[string]any{"n": -1, "blob": strings.Repeat("b", tt.size)})
			if !errors.Is(err, client.ErrEventTooLarge) {
				t.Fatalf("Record of %d bytes: got %v, want ErrEventTooLarge", tt.size, err)
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not contain %q", err, want)
				}
			}
			if _, err := s.Record("winston_logs", map[string]any{"n": 2*i + 1}); err != nil {
				t.Fatalf("Record after: %v", err)
			}
		})
	}
	flush(t, c)
	envs := streamEvents(t, js, c.UserID())
	if len(envs) != 5 {
		t.Fatalf("events in the stream: got %d, want 5 (start and four small records)", len(envs))
	}
	checkOrder(t, envs)
}

func TestTooLargeForServerRemovedWhenPublished(t *testing.T) {
	tests := []struct {
		name string
		// serverMax is the server's max payload, 0 for 1 MiB; streamMax
		// is the max payload that the events stream is provisioned for.
		serverMax int32
		streamMax int
	}{
		{"server max payload learned after Record", 4096, 1 << 20},
		{"stream max message size", 0, 8192},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			cfg := baseConfig(t, natsURL(port))
			var mu sync.Mutex
			var reported []error
			cfg.OnError = func(err error) {
				mu.Lock()
				reported = append(reported, err)
				mu.Unlock()
			}
			c := newClient(t, cfg)
			s, err := c.StartSession()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Record("winston_logs", map[string]any{"n": 1}); err != nil {
				t.Fatal(err)
			}
			// While offline the client has neither limit, so Record
			// takes the event.
			big, err := s.Record("winston_logs", map[string]any{"n": 2, "blob": strings.Repeat("b", 6000)})
			if err != nil {
				t.Fatalf("Record of 6000 bytes offline: got %v, want success", err)
			}
			if _, err := s.Record("winston_logs", map[string]any{"n": 3}); err != nil {
				t.Fatal(err)
			}

			n := startNATS(t, port, tt.serverMax)
			js := provision(t, n.URL(), tt.streamMax)
			flush(t, c)
			if st := c.Stats(); st.Sent != 3 || st.Rejected != 1 || st.Pending != 0 {
				t.Fatalf("stats: got %+v, want 3 sent, 1 rejected, 0 pending", st)
			}
			mu.Lock()
			defer mu.Unlock()
			var pe *client.PublishError
			if len(reported) != 1 || !errors.As(reported[0], &pe) || !errors.Is(pe, client.ErrRejected) || pe.EventID != big {
				t.Fatalf("OnError: got %v, want one ErrRejected for event %s", reported, big)
			}
			envs := streamEvents(t, js, c.UserID())
			if len(envs) != 3 {
				t.Fatalf("events in the stream: got %d, want 3", len(envs))
			}
			checkOrder(t, envs)
		})
	}
}

func TestServerRestartKeepsOrder(t *testing.T) {
	port := freePort(t)
	n := startNATS(t, port, 0)
	js := provision(t, n.URL(), 1<<20)
	c := newClient(t, baseConfig(t, n.URL()))
	waitConnected(t, c)
	s, err := c.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	record := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := s.Record("codegen_recordings", map[string]any{"n": i}); err != nil {
				t.Fatalf("Record %d: %v", i, err)
			}
		}
	}

	record(0, 1000)
	// Stop the server while the client is still publishing.
	n.Stop()
	record(1000, 2000)

	if err := n.Start(); err != nil {
		t.Fatalf("restart nats: %v", err)
	}
	_, js = testenv.Connect(t, n.URL())
	flush(t, c)

	envs := streamEvents(t, js, c.UserID())
	if len(envs) != 2001 {
		t.Fatalf("events in the stream: got %d, want 2001", len(envs))
	}
	checkOrder(t, envs)
}

func TestStreamCreatedWhilePublishing(t *testing.T) {
	n := startNATS(t, freePort(t), 0)
	cfg := baseConfig(t, n.URL())
	failed := make(chan error, 1)
	cfg.OnError = func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	c := newClient(t, cfg)
	s, err := c.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := s.Record("testcase_generator", map[string]any{"n": i}); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}

	// The first publish fails because no stream exists yet.
	select {
	case err := <-failed:
		var pe *client.PublishError
		if !errors.As(err, &pe) || !pe.Temporary {
			t.Fatalf("OnError: got %v, want a temporary *PublishError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no publish failure reported within 10s")
	}
	js := provision(t, n.URL(), 1<<20)
	flush(t, c)

	envs := streamEvents(t, js, c.UserID())
	if len(envs) != 1001 {
		t.Fatalf("events in the stream: got %d, want 1001", len(envs))
	}
	checkOrder(t, envs)
}

func TestRecordErrors(t *testing.T) {
	c := newClient(t, baseConfig(t, natsURL(freePort(t))))
	s, err := c.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dataType string
		data     any
		want     error
	}{
		{"type not a collection name", "Bad.Type", map[string]any{"a": 1}, client.ErrInvalidEvent},
		{"data not an object", "winston_logs", []int{1, 2}, client.ErrInvalidEvent},
		{"raw data not JSON", "winston_logs", json.RawMessage(`{"a":`), client.ErrInvalidEvent},
		{"data not encodable", "winston_logs", map[string]any{"f": func() {}}, client.ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Record(tt.dataType, tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("Record: got %v, want %v", err, tt.want)
			}
		})
	}

	id, err := s.Record("winston_logs", json.RawMessage(`{"a":1}`), client.WithEventID("import-1"), client.WithTime(time.Unix(0, 0)))
	if err != nil || id != "import-1" {
		t.Fatalf("Record with an event id: got %q, %v; want import-1", id, err)
	}
	if err := s.End(nil); err != nil {
		t.Fatalf("End: %v", err)
	}
	if _, err := s.Record("winston_logs", map[string]any{"a": 1}); !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("Record after End: got %v, want ErrSessionEnded", err)
	}
	if err := s.End(nil); !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("second End: got %v, want ErrSessionEnded", err)
	}
	if _, err := c.Session("bad.session"); err == nil {
		t.Fatalf("Session with a dot: got no error")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Close(ctx)
	var unsent *client.UnsentError
	if !errors.As(err, &unsent) || unsent.Events != 3 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with NATS down: got %v, want an UnsentError for 3 events", err)
	}
	if _, err := c.StartSession(); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("StartSession after Close: got %v, want ErrClosed", err)
	}
	if err := c.Flush(context.Background()); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Flush after Close: got %v, want ErrClosed", err)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*client.Config)
		want string
	}{
		{"no URL", func(c *client.Config) { c.URL = "" }, "URL is empty"},
		{"app with slash", func(c *client.Config) { c.App = "a/b" }, `App "a/b" is invalid`},
		{"no user and no key", func(c *client.Config) { c.IdentityKey = nil }, "UserID and IdentityKey are both empty"},
		{"user with dot", func(c *client.Config) { c.UserID = "a.b" }, "UserID"},
		{"short key", func(c *client.Config) { c.IdentityKey = []byte("short") }, "identity key is 5 bytes"},
		{"outbox smaller than an event", func(c *client.Config) { c.Outbox.MaxBytes = 4096 }, "Outbox.MaxBytes is 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(t, natsURL(freePort(t)))
			tt.edit(&cfg)
			c, err := client.New(cfg)
			if err == nil {
				c.Close(context.Background())
				t.Fatalf("New: got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestUserIDs(t *testing.T) {
	cfg := baseConfig(t, natsURL(freePort(t)))
	first := newClient(t, cfg)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(first.UserID()) {
		t.Fatalf("derived user id %q: want 32 lowercase hex digits", first.UserID())
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := newClient(t, cfg)
	if again.UserID() != first.UserID() {
		t.Fatalf("user id of the next run: got %s, want %s", again.UserID(), first.UserID())
	}

	other := baseConfig(t, cfg.URL)
	if got := newClient(t, other).UserID(); got == first.UserID() {
		t.Fatalf("user id of another install: got %s, the first install's; want a different id", got)
	}

	own := baseConfig(t, cfg.URL)
	own.UserID = "account-42"
	c := newClient(t, own)
	if _, ok := c.Identity(); c.UserID() != "account-42" || ok {
		t.Fatalf("app's own user id: got %s (derived %v), want account-42", c.UserID(), ok)
	}
}

func TestOutboxDirectoryLocked(t *testing.T) {
	cfg := baseConfig(t, natsURL(freePort(t)))
	newClient(t, cfg)
	if _, err := client.New(cfg); !errors.Is(err, outbox.ErrLocked) {
		t.Fatalf("second client on the same outbox: got %v, want ErrLocked", err)
	}
}

func TestDefaultMaxEventBytesFitsTheStream(t *testing.T) {
	want := events.DefaultMaxBytes - streams.DeadLetterHeadroom
	if client.DefaultMaxEventBytes != want {
		t.Fatalf("DefaultMaxEventBytes: got %d, want %d, the events stream's max message size", client.DefaultMaxEventBytes, want)
	}
}
