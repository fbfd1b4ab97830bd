package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// MongoConfig configures an embedded FerretDB with the SQLite handler, which
// speaks the MongoDB wire protocol.
type MongoConfig struct {
	// Host is the listen address. Default 127.0.0.1.
	Host string
	// Port is the listen port. 0 means 27017; -1 picks a free port.
	Port int
	// Dir is the directory of the SQLite files, one per database. Required.
	Dir string
	// Logger receives FerretDB's log. Nil discards it.
	Logger *slog.Logger
}

// Mongo is an embedded FerretDB. Like NATS, it can be stopped and started
// again on the same port and data.
type Mongo struct {
	cfg MongoConfig

	mu     sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{}
}

// StartMongo starts an embedded FerretDB.
func StartMongo(cfg MongoConfig) (*Mongo, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start ferretdb: Dir is empty")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 27017
	}
	if cfg.Port < 0 {
		port, err := freePort(cfg.Host)
		if err != nil {
			return nil, err
		}
		cfg.Port = port
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start ferretdb: %w", err)
	}
	m := &Mongo{cfg: cfg}
	if err := m.Start(); err != nil {
		return nil, err
	}
	return m, nil
}

// Start starts FerretDB after Stop. It is a no-op while it runs.
func (m *Mongo) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done != nil {
		return nil
	}
	if err := checkPortFree(m.cfg.Host, m.cfg.Port, "MongoDB (FerretDB)"); err != nil {
		return err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: m.addr()},
		Handler:   "sqlite",
		SQLiteURL: "file:" + m.cfg.Dir + "/",
		Logger:    m.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("start ferretdb on %s: %w", m.addr(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // returns nil when ctx is done
	}()
	m.cancel, m.done = cancel, done
	return nil
}

// Stop stops FerretDB, closing every client connection, and waits until it
// has stopped. It is safe to call more than once.
func (m *Mongo) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cancel, m.done = nil, nil
}

// URI returns the MongoDB connection string.
func (m *Mongo) URI() string {
	return "mongodb://" + m.addr() + "/"
}

func (m *Mongo) addr() string {
	return net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
