package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/client"
	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/devstack"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/streams"
	"github.com/stewardhq/steward/internal/testenv"
)

var testKey = []byte("steward client test key, 32 byte")

var streamConfig = config.Stream{
	EventsStream:     "STEWARD_EVENTS",
	DeadLetterStream: "STEWARD_DLQ",
	DeadLetterMaxAge: 24 * time.Hour,
	DedupeWindow:     time.Hour,
	Replicas:         1,
}

// freePort returns a loopback port that nothing listens on, so a client
// can be pointed at a NATS server that starts later.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func natsURL(port int) string { return "nats://127.0.0.1:" + strconv.Itoa(port) }

// startNATS starts an embedded NATS server on port; maxPayload 0 keeps the
// server default of 1 MiB.
func startNATS(t *testing.T, port int, maxPayload int32) *devstack.NATS {
	t.Helper()
	n, err := devstack.StartNATS(devstack.NATSConfig{Port: port, StoreDir: t.TempDir(), MaxPayload: maxPayload})
	if err != nil {
		t.Fatalf("start nats on port %d: %v", port, err)
	}
	t.Cleanup(n.Stop)
	return n
}

// provision creates the events stream, for tests that check the stream's
// acknowledgements without running ingest.
func provision(t *testing.T, url string, maxPayload int) jetstream.JetStream {
	t.Helper()
	_, js := testenv.Connect(t, url)
	if _, err := streams.Ensure(context.Background(), js, streams.EventsConfig(streamConfig, maxPayload, 24*time.Hour), testenv.Logger(t)); err != nil {
		t.Fatalf("provision events stream: %v", err)
	}
	return js
}

// startIngest runs an ingest worker through ingest.Serve until the test
// ends.
func startIngest(t *testing.T, url string, m *testenv.Mongo) {
	t.Helper()
	cfg := &config.Config{
		NATS:   config.NATS{URL: url},
		Mongo:  m.Config,
		Stream: streamConfig,
		Ingest: config.Ingest{Consumer: "ingest", BatchSize: 500, MaxWait: 100 * time.Millisecond, MaxAckPending: 4000, MaxPayload: 1 << 20, AckWait: 30 * time.Second},
	}
	pol, err := policy.NewWatcher("", nil)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ingest.Serve(ctx, cfg, pol, testenv.Logger(t)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
}

// baseConfig returns a client configuration for url with its own outbox
// and identity directories, quick reconnects and short retry pauses.
func baseConfig(t *testing.T, url string) client.Config {
	t.Helper()
	return client.Config{
		URL:          url,
		NATSOptions:  []nats.Option{nats.ReconnectWait(50 * time.Millisecond)},
		App:          "steward-test",
		AppVersion:   "1.2.3",
		IdentityKey:  testKey,
		IdentityDir:  t.TempDir(),
		Outbox:       outbox.Config{Dir: t.TempDir()},
		AckTimeout:   2 * time.Second,
		MaxRetryWait: 200 * time.Millisecond,
		Logger:       testenv.Logger(t),
	}
}

// newClient starts a client and closes it when the test ends.
func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil && !errors.Is(err, client.ErrUnsent) {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func flush(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// waitConnected waits until the client's connection is up.
func waitConnected(t *testing.T, c *client.Client) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() bool { return c.Stats().Connected }, "client never connected")
}

// streamEvents reads every event of user from the events stream in stream
// order.
func streamEvents(t *testing.T, js jetstream.JetStream, user string) []events.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, streamConfig.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectPrefix + "." + user + ".>"}})
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	var out []events.Envelope
	for remaining := int(info.NumPending); remaining > 0; {
		batch, err := cons.Fetch(remaining, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for msg := range batch.Messages() {
			var env events.Envelope
			if err := json.Unmarshal(msg.Data(), &env); err != nil {
				t.Fatalf("decode stream message: %v", err)
			}
			out = append(out, env)
			remaining--
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch: %v", err)
		}
	}
	return out
}

// checkOrder checks that the records of each session carry increasing
// "n" values and that no event id occurs twice.
func checkOrder(t *testing.T, envs []events.Envelope) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{}
	for _, env := range envs {
		if seen[env.ID] {
			t.Fatalf("event %s occurs twice in the stream", env.ID)
		}
		seen[env.ID] = true
		if env.Kind != events.KindRecord {
			continue
		}
		var data struct{ N int }
		if err := json.Unmarshal(env.Data, &data); err != nil {
			t.Fatalf("decode data of %s: %v", env.ID, err)
		}
		if prev, ok := last[env.SessionID]; ok && data.N <= prev {
			t.Fatalf("session %s: record %d follows record %d, want increasing order", env.SessionID, data.N, prev)
		}
		last[env.SessionID] = data.N
	}
}

// logBuffer collects log records for checks on what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), substr)
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
