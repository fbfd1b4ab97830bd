package publish

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stewardhq/steward/client"
	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/streams"
)

// Summary counts what a publish run did.
type Summary struct {
	// Sent is the number of events the stream stored.
	Sent int `json:"sent"`
	// Duplicates is the number of events the stream already had within its
	// duplicate window.
	Duplicates int `json:"duplicates"`
	// Rejected lists inputs that could not become events, with reasons.
	Rejected []Failure `json:"rejected"`
	// Unacknowledged lists events the stream did not confirm.
	Unacknowledged []Failure `json:"unacknowledged"`
}

// Failure is one input that was not published.
type Failure struct {
	Origin string `json:"origin"`
	Reason string `json:"reason"`
}

// OK reports whether every input was published.
func (s *Summary) OK() bool { return len(s.Rejected) == 0 && len(s.Unacknowledged) == 0 }

// Target is where and as whom events are published.
type Target struct {
	User    scope.User
	Session scope.Session
	Type    string
	// MaxBytes is the max payload of ingest (STEWARD_MAX_PAYLOAD); 0 means
	// events.DefaultMaxBytes. Events may take up to MaxBytes minus
	// streams.DeadLetterHeadroom, headers included.
	MaxBytes int
	// Window is the most publishes awaiting an ack at once. Default 256.
	Window int
	// AckTimeout bounds the wait for each ack before the event is sent
	// again. Default 10s.
	AckTimeout time.Duration
	// Timeout bounds the wait for the acknowledgements of all events after
	// the last input was read. Default 30s.
	Timeout time.Duration
}

// Publisher publishes items as data records of one session through a
// client.Client and tallies the results. The client's outbox is a
// temporary directory that Close removes: `steward publish` reports events
// that were not acknowledged instead of keeping them for a later run.
type Publisher struct {
	client  *client.Client
	session *client.Session
	target  Target
	dir     string
	url     string

	mu      sync.Mutex // guards summary, pending and added
	summary Summary
	// pending maps the event ids awaiting an acknowledgement to their
	// inputs.
	pending map[string]pendingItem
	added   int
}

type pendingItem struct {
	origin string
	order  int
}

// NewPublisher connects to NATS with the URL and credentials of cfg and
// returns a publisher for target. It does not wait for the connection.
func NewPublisher(cfg config.NATS, target Target, log *slog.Logger) (*Publisher, error) {
	target.Window = cmp.Or(target.Window, 256)
	target.AckTimeout = cmp.Or(target.AckTimeout, 10*time.Second)
	target.Timeout = cmp.Or(target.Timeout, 30*time.Second)
	opts, err := natsOptions(cfg)
	if err != nil {
		return nil, err
	}
	// The events stream keeps DeadLetterHeadroom of the max payload free.
	maxBytes := cmp.Or(target.MaxBytes, events.DefaultMaxBytes) - streams.DeadLetterHeadroom
	if maxBytes < 1024 {
		return nil, fmt.Errorf("max payload %d bytes leaves %d bytes for an event after the events stream's headroom of %d bytes: set STEWARD_MAX_PAYLOAD to at least %d",
			cmp.Or(target.MaxBytes, events.DefaultMaxBytes), maxBytes, streams.DeadLetterHeadroom, 1024+streams.DeadLetterHeadroom)
	}

	dir, err := os.MkdirTemp("", "steward-publish-outbox-")
	if err != nil {
		return nil, fmt.Errorf("create temporary outbox: %w", err)
	}
	p := &Publisher{target: target, dir: dir, url: config.RedactURL(cfg.URL), pending: map[string]pendingItem{}}
	p.client, err = client.New(client.Config{
		URL:         cfg.URL,
		NATSOptions: opts,
		// Steward's own programs receive replies on the default inbox.
		InboxPrefix: "_INBOX",
		App:         "steward-publish",
		UserID:      string(target.User),
		Outbox: outbox.Config{
			Dir: dir,
			// The outbox is removed after the run, so there is nothing to
			// keep across a power loss.
			SyncInterval: outbox.NoSync,
			MaxBytes:     max(64<<20, 4*int64(maxBytes)),
		},
		MaxEventBytes: maxBytes,
		MaxInFlight:   target.Window,
		AckTimeout:    target.AckTimeout,
		OnAck:         p.onAck,
		OnError:       p.onError,
		Logger:        log,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	p.session, err = p.client.Session(string(target.Session))
	if err != nil {
		p.Abandon()
		return nil, err
	}
	return p, nil
}

// natsOptions returns the connection options for cfg's credentials.
func natsOptions(cfg config.NATS) ([]nats.Option, error) {
	opts := []nats.Option{nats.Name("steward-publish"), nats.ReconnectWait(250 * time.Millisecond)}
	auth, err := natsconn.AuthOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, auth...)
	return opts, nil
}

func (p *Publisher) onAck(ack client.Ack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ack.Duplicate {
		p.summary.Duplicates++
	} else {
		p.summary.Sent++
	}
	delete(p.pending, ack.EventID)
}

func (p *Publisher) onError(err error) {
	var pe *client.PublishError
	if !errors.As(err, &pe) || pe.Temporary {
		return // logged by the client, and retried
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if it, ok := p.pending[pe.EventID]; ok {
		p.summary.Unacknowledged = append(p.summary.Unacknowledged, Failure{Origin: it.origin, Reason: pe.Err.Error()})
		delete(p.pending, pe.EventID)
	}
}

// Add records one item; the client publishes it in the background. Items
// that cannot be encoded are counted as rejected. It returns an error only
// when the outbox cannot be written.
func (p *Publisher) Add(ctx context.Context, it Item) error {
	if it.Err != nil {
		p.reject(it.Origin, it.Err)
		return nil
	}
	p.mu.Lock()
	p.pending[it.ID] = pendingItem{origin: it.Origin, order: p.added}
	p.added++
	p.mu.Unlock()

	_, err := p.session.Record(p.target.Type, it.Data, client.WithEventID(it.ID), client.WithTime(it.Time))
	if errors.Is(err, client.ErrOutboxFull) {
		// More input than the outbox can store: wait for the server to catch up.
		if ferr := p.flushFor(ctx, p.target.Timeout); ferr == nil {
			_, err = p.session.Record(p.target.Type, it.Data, client.WithEventID(it.ID), client.WithTime(it.Time))
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrInvalidEvent), errors.Is(err, client.ErrEventTooLarge):
		p.forget(it.ID)
		p.reject(it.Origin, err)
		return nil
	case errors.Is(err, client.ErrOutboxFull):
		p.forget(it.ID)
		p.mu.Lock()
		p.summary.Unacknowledged = append(p.summary.Unacknowledged, Failure{Origin: it.Origin, Reason: err.Error()})
		p.mu.Unlock()
		return nil
	default:
		p.forget(it.ID)
		return err
	}
}

func (p *Publisher) reject(origin string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.summary.Rejected = append(p.summary.Rejected, Failure{Origin: origin, Reason: err.Error()})
}

func (p *Publisher) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pending, id)
}

func (p *Publisher) flushFor(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return p.client.Flush(ctx)
}

// Flush waits up to Target.Timeout for the acknowledgements of every
// recorded event, closes the client, removes the temporary outbox and
// returns the summary. Events still unacknowledged are listed in the
// summary's Unacknowledged. The error is ctx's when ctx ended, or a failure
// to close the outbox.
func (p *Publisher) Flush(ctx context.Context) (Summary, error) {
	wait, cancel := context.WithTimeout(ctx, p.target.Timeout)
	defer cancel()
	err := p.Close(wait)
	var unsent *client.UnsentError
	if errors.As(err, &unsent) {
		err = ctx.Err()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	left := make([]pendingItem, 0, len(p.pending))
	for _, it := range p.pending {
		left = append(left, it)
	}
	slices.SortFunc(left, func(a, b pendingItem) int { return a.order - b.order })
	reason := fmt.Sprintf("not acknowledged within %v; check that NATS at %s runs and that ingest has provisioned the events stream", p.target.Timeout, p.url)
	for _, it := range left {
		p.summary.Unacknowledged = append(p.summary.Unacknowledged, Failure{Origin: it.origin, Reason: reason})
	}
	clear(p.pending)
	return p.summary, err
}

// Abandon ends a run without waiting for acknowledgements: it closes the
// client and removes the temporary outbox with whatever it still contains.
func (p *Publisher) Abandon() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Close(ctx)
	var unsent *client.UnsentError
	if errors.As(err, &unsent) {
		return nil
	}
	return err
}

// Close closes the client, waiting up to ctx's end for acknowledgements,
// and removes the temporary outbox. Flush and Abandon call it.
func (p *Publisher) Close(ctx context.Context) error {
	err := p.client.Close(ctx)
	if rerr := os.RemoveAll(p.dir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove temporary outbox: %w", rerr))
	}
	return err
}
