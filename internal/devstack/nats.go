package devstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSConfig configures an embedded NATS server.
type NATSConfig struct {
	// Host is the listen address. Default 127.0.0.1.
	Host string
	// Port is the client port. 0 means 4222; -1 picks a free port.
	Port int
	// StoreDir is the JetStream store directory. Required.
	StoreDir string
	// MaxPayload is the largest message in bytes. 0 means the server
	// default of 1 MiB.
	MaxPayload int32
	// Logger receives the server's notices and errors. Nil discards them.
	Logger *slog.Logger
}

// NATS is an embedded nats-server with JetStream. It can be stopped and
// started again on the same port and store, which tests use to simulate a
// broker restart.
type NATS struct {
	cfg NATSConfig

	mu  sync.Mutex // guards srv
	srv *server.Server
}

// StartNATS starts an embedded NATS server with JetStream.
func StartNATS(cfg NATSConfig) (*NATS, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start nats: StoreDir is empty")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 4222
	}
	n := &NATS{cfg: cfg}
	if err := n.Start(); err != nil {
		return nil, err
	}
	// Later restarts must come back on the same port, even a random one.
	n.cfg.Port = n.srv.Addr().(*net.TCPAddr).Port
	return n, nil
}

// Start starts the server after Stop. It is a no-op while it runs.
func (n *NATS) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil && n.srv.Running() {
		return nil
	}
	if n.cfg.Port > 0 {
		if err := checkPortFree(n.cfg.Host, n.cfg.Port, "NATS"); err != nil {
			return err
		}
	}
	opts := &server.Options{
		ServerName: "steward-dev",
		Host:       n.cfg.Host,
		Port:       n.cfg.Port,
		JetStream:  true,
		StoreDir:   n.cfg.StoreDir,
		MaxPayload: n.cfg.MaxPayload,
		NoSigs:     true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("start nats: %w", err)
	}
	if n.cfg.Logger != nil {
		srv.SetLoggerV2(natsLogger{n.cfg.Logger}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("start nats on %s:%d: not ready after 30s", n.cfg.Host, n.cfg.Port)
	}
	n.srv = srv
	return nil
}

// Stop shuts the server down and waits until it has stopped. It is safe to
// call more than once.
func (n *NATS) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

// URL returns the client URL, for example nats://127.0.0.1:4222.
func (n *NATS) URL() string {
	return "nats://" + net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.Port))
}

// Server returns the running server, or nil after Stop.
func (n *NATS) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// natsLogger passes nats-server log lines to slog.
type natsLogger struct{ l *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  {}

// checkPortFree returns a clear error when host:port is taken, because the
// servers' own errors do not say which flag to change.
func checkPortFree(host string, port int, what string) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s port %s is not available (%v): stop the process that uses it or choose another port", what, addr, err)
	}
	return l.Close()
}
