package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/client/identity"
	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/scope"
)

// Client records events into its outbox and publishes them to NATS
// JetStream in the background. Its methods are safe for concurrent use.
type Client struct {
	cfg      Config
	user     scope.User
	identity *identity.Identity
	log      *slog.Logger
	nc       *nats.Conn
	js       jetstream.JetStream
	ob       *outbox.Outbox

	// connChanged receives a value when the connection connects,
	// reconnects, disconnects or closes.
	connChanged chan struct{}
	stop        context.CancelFunc
	done        chan struct{} // closed when the publishing goroutine returned

	// mu guards closed and progress. Record holds it for reading while it
	// appends, so the flush in Close includes every event that Record
	// accepted.
	mu     sync.RWMutex
	closed bool
	// progress is closed and replaced whenever the outbox cursor moves.
	progress chan struct{}

	// full is set while the outbox rejects events; fullRejected counts them.
	full         atomic.Bool
	fullRejected atomic.Int64

	sent, duplicates, rejected atomic.Uint64
	lastAsyncErr               atomic.Int64 // unix nanoseconds
	closeOnce                  sync.Once
	closeErr                   error
}

// New opens the outbox, resolves the user id, connects to NATS in the
// background and starts publishing. It does not wait for the server: while
// NATS is unreachable, events are kept in the outbox. Events that an
// earlier run left in the outbox are sent first.
func New(cfg Config) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:         cfg,
		log:         cfg.Logger,
		connChanged: make(chan struct{}, 1),
		done:        make(chan struct{}),
		progress:    make(chan struct{}),
	}
	if err := c.resolveUser(); err != nil {
		return nil, err
	}
	ob, err := outbox.Open(cfg.Outbox)
	if err != nil {
		return nil, err
	}
	c.ob = ob
	if err := c.connect(); err != nil {
		ob.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	go c.publishLoop(ctx)
	c.log.Info("steward client started", "app", cfg.App, "outbox", ob.Dir())
	return c, nil
}

func (c *Client) resolveUser() error {
	if c.cfg.UserID != "" {
		c.user = scope.User(c.cfg.UserID)
		return nil
	}
	id, err := identity.Resolve(identity.Options{App: c.cfg.App, Key: c.cfg.IdentityKey, Dir: c.cfg.IdentityDir})
	if err != nil {
		return fmt.Errorf("derive user id: %w", err)
	}
	c.identity = &id
	c.user = scope.User(id.User)
	switch {
	case id.Cloned:
		c.log.Warn("install file was created on another machine (a cloned image, a restored backup or a roaming profile); created a new install id for this machine, so this machine gets its own user id",
			"path", id.Path)
	case id.NewInstall:
		c.log.Info("created install id", "path", id.Path)
	}
	if id.MachineIDError != nil {
		c.log.Warn("machine id unreadable; using the newest install id in the install file", "path", id.Path, "err", id.MachineIDError)
	}
	return nil
}

func (c *Client) connect() error {
	signal := func() {
		select {
		case c.connChanged <- struct{}{}:
		default:
		}
	}
	opts := append([]nats.Option{}, c.cfg.NATSOptions...)
	opts = append(opts,
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		// No reconnect buffer: a publish while disconnected fails at once
		// instead of being sent after later events, so the outbox alone
		// decides the order of resends.
		nats.ReconnectBufSize(-1),
		nats.CustomInboxPrefix(cmp.Or(c.cfg.InboxPrefix, "_INBOX_"+string(c.user))),
		nats.ConnectHandler(func(nc *nats.Conn) {
			c.log.Info("connected to nats", "url", nc.ConnectedUrlRedacted())
			signal()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.log.Info("reconnected to nats", "url", nc.ConnectedUrlRedacted())
			signal()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.log.Warn("disconnected from nats; events are kept in the outbox until it reconnects", "err", err)
			}
			signal()
		}),
		nats.ClosedHandler(func(*nats.Conn) { signal() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.reportAsync(err)
		}),
	)
	nc, err := nats.Connect(c.cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("connect to nats: %w; check URL and NATSOptions", err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(c.cfg.AckTimeout),
		jetstream.WithPublishAsyncMaxPending(c.cfg.MaxInFlight+1))
	if err != nil {
		nc.Close()
		return fmt.Errorf("create jetstream context: %w", err)
	}
	c.nc, c.js = nc, js
	return nil
}

// reportAsync logs and reports an asynchronous connection error, such as a
// permissions violation, at most once every 10 seconds.
func (c *Client) reportAsync(err error) {
	now := time.Now().UnixNano()
	last := c.lastAsyncErr.Load()
	if now-last < int64(10*time.Second) || !c.lastAsyncErr.CompareAndSwap(last, now) {
		return
	}
	c.log.Error("nats asynchronous error; check the client's permissions and the server log", "err", err)
	if c.cfg.OnError != nil {
		c.cfg.OnError(fmt.Errorf("nats connection: %w", err))
	}
}

// UserID returns the user id the client publishes under.
func (c *Client) UserID() string { return string(c.user) }

// Identity returns the derived identity, and false when Config.UserID was
// set.
func (c *Client) Identity() (identity.Identity, bool) {
	if c.identity == nil {
		return identity.Identity{}, false
	}
	return *c.identity, true
}

// Stats is a snapshot of a client's counters.
type Stats struct {
	// Pending and PendingBytes are the events in the outbox that the
	// stream has not acknowledged, and their stored size.
	Pending      int
	PendingBytes int64
	// Sent, Duplicates and Rejected count, since New, the events the
	// stream stored, the events it already had, and the events it
	// rejected for good.
	Sent, Duplicates, Rejected uint64
	// Connected reports whether the NATS connection is up.
	Connected bool
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	n, b := c.ob.Stats()
	return Stats{
		Pending:      n,
		PendingBytes: b,
		Sent:         c.sent.Load(),
		Duplicates:   c.duplicates.Load(),
		Rejected:     c.rejected.Load(),
		Connected:    c.nc.IsConnected(),
	}
}

// Flush waits until the stream has acknowledged, or rejected, every event
// recorded before the call. When ctx ends first it returns an
// *UnsentError; the events stay in the outbox and are still sent.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return c.flush(ctx)
}

func (c *Client) flush(ctx context.Context) error {
	target := c.ob.Next()
	for {
		c.mu.RLock()
		progress := c.progress
		c.mu.RUnlock()
		if c.ob.Cursor() >= target {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			n, b := c.ob.Stats()
			return &UnsentError{Events: n, Bytes: b, Dir: c.ob.Dir(), Err: ctx.Err()}
		}
	}
}

// notifyProgress wakes Flush calls after the outbox cursor moved.
func (c *Client) notifyProgress() {
	c.mu.Lock()
	close(c.progress)
	c.progress = make(chan struct{})
	c.mu.Unlock()
}

// Close stops accepting events, waits until the stream acknowledged every
// recorded event or ctx ends, then stops publishing and closes the
// connection and the outbox. Unacknowledged events stay in the outbox for
// the next client on the same directory; Close then returns an
// *UnsentError. Close is safe to call more than once and returns the first
// call's result.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()

		flushErr := c.flush(ctx)
		c.stop()
		<-c.done
		c.nc.Close()
		obErr := c.ob.Close()
		if obErr != nil {
			obErr = fmt.Errorf("close outbox: %w", obErr)
		}
		c.closeErr = errors.Join(flushErr, obErr)
		st := c.Stats()
		c.log.Info("steward client stopped", "sent", st.Sent, "duplicates", st.Duplicates, "rejected", st.Rejected, "pending", st.Pending)
	})
	return c.closeErr
}
