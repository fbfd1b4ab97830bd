// Package testenv gives tests real servers: an embedded nats-server with
// JetStream and an embedded FerretDB, or the MongoDB server named by
// STEWARD_TEST_MONGODB_URI. Every helper registers its teardown with
// t.Cleanup.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/devstack"
	"github.com/stewardhq/steward/internal/store"
)

// MongoURIEnv names the variable that points the tests at a real MongoDB.
const MongoURIEnv = "STEWARD_TEST_MONGODB_URI"

// Logger returns a logger that writes to the test log at debug level, and
// stops writing once the test is over.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// warnLogger logs warnings and errors of embedded servers to the test log.
func warnLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// NATS starts an embedded NATS server with JetStream on a random port.
func NATS(t testing.TB) *devstack.NATS {
	t.Helper()
	n, err := devstack.StartNATS(devstack.NATSConfig{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(n.Stop)
	return n
}

// Connect connects to url with endless reconnects, as the workers do.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Mongo is a MongoDB-compatible server for one test, with a database of its
// own.
type Mongo struct {
	Config config.Mongo

	embedded *devstack.Mongo // nil when STEWARD_TEST_MONGODB_URI is set
	proxy    *Proxy          // in front of an external server, to cut it
}

// StartMongo returns the server of STEWARD_TEST_MONGODB_URI, or starts an
// embedded FerretDB. The database is unique to the test and dropped after it.
func StartMongo(t testing.TB) *Mongo {
	t.Helper()
	db := fmt.Sprintf("test_%d", time.Now().UnixNano())
	m := &Mongo{Config: config.Mongo{Database: db, Timeout: 10 * time.Second}}
	if uri := os.Getenv(MongoURIEnv); uri != "" {
		m.proxy = StartProxy(t, hostOf(t, uri))
		m.Config.URI = "mongodb://" + m.proxy.Addr() + "/?directConnection=true"
		if cs := credentials(uri); cs != "" {
			m.Config.URI = "mongodb://" + cs + "@" + m.proxy.Addr() + "/?directConnection=true"
		}
		t.Cleanup(func() { dropDatabase(uri, db) })
		return m
	}
	emb, err := devstack.StartMongo(devstack.MongoConfig{Port: -1, Dir: t.TempDir(), Logger: warnLogger(t)})
	if err != nil {
		t.Fatalf("start ferretdb: %v", err)
	}
	t.Cleanup(emb.Stop)
	m.embedded = emb
	m.Config.URI = emb.URI()
	return m
}

// Stop makes the server unreachable: the embedded FerretDB stops, an
// external server is cut off at the proxy.
func (m *Mongo) Stop() {
	if m.embedded != nil {
		m.embedded.Stop()
		return
	}
	m.proxy.Cut()
}

// Start makes the server reachable again after Stop.
func (m *Mongo) Start(t testing.TB) {
	t.Helper()
	if m.embedded != nil {
		if err := m.embedded.Start(); err != nil {
			t.Fatalf("restart ferretdb: %v", err)
		}
		return
	}
	m.proxy.Restore()
}

// Store connects a store to the test's database.
func (m *Mongo) Store(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Connect(context.Background(), m.Config, Logger(t))
	if err != nil {
		t.Fatalf("connect store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// Database returns a plain driver handle on the test's database, for
// checking what was stored.
func (m *Mongo) Database(t testing.TB) *mongo.Database {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(m.Config.URI).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect mongodb: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client.Database(m.Config.Database)
}

func dropDatabase(uri, db string) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		return
	}
	defer client.Disconnect(context.Background())
	_ = client.Database(db).Drop(context.Background())
}

// Eventually polls cond every 20ms until it returns true, and fails the
// test with msg after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var _ io.Writer = (*testWriter)(nil)
