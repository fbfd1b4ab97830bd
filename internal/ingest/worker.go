// Package ingest is the worker that moves events from the JetStream events
// stream into MongoDB. Any number of replicas share one durable pull
// consumer. A message is acknowledged only after MongoDB acknowledged its
// write. Redelivery cannot create a second document, because the document
// key is derived from the user id and event id.
//
// Writer, the path from message to stored document, does not depend on
// acknowledgements, so a replay that restores the store uses it too.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/streams"
)

// Types is the set of data types that have a retention period. Events of
// any other type are dead-lettered.
type Types interface {
	Allows(dataType string) bool
	Types() []string
}

// Config configures a Worker.
type Config struct {
	Stream config.Stream
	Ingest config.Ingest
	// StreamMaxAge is the max age of the events stream when Run creates it.
	StreamMaxAge time.Duration
	// Types returns the current set of allowed data types. It is called once
	// per batch, so a reloaded policy applies from the next batch.
	Types func() Types
	// MaxStoreAttempts is how often a single document may fail with an
	// unclassified store error before it is dead-lettered. Default 10.
	MaxStoreAttempts int
	// MinBackoff and MaxBackoff bound the pause between retries while the
	// store or NATS is unavailable. Defaults 250ms and 30s.
	MinBackoff, MaxBackoff time.Duration
}

// Worker is one ingest replica.
type Worker struct {
	js     jetstream.JetStream
	writer *Writer
	cfg    Config
	log    *slog.Logger
}

// New returns a worker. Run starts it.
func New(js jetstream.JetStream, st *store.Store, cfg Config, log *slog.Logger) *Worker {
	if cfg.MaxStoreAttempts <= 0 {
		cfg.MaxStoreAttempts = 10
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Worker{js: js, writer: NewWriter(st, cfg.Ingest.MaxPayload, cfg.Types), cfg: cfg, log: log}
}

// Run provisions the streams and the consumer, then fetches and stores
// batches until ctx is cancelled. On cancellation it stops fetching,
// finishes the batch in hand and returns nil. It returns an error only when
// provisioning fails at startup.
func (w *Worker) Run(ctx context.Context) error {
	cons, err := w.provision(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped during startup: a clean stop, not a failure.
			w.log.Info("ingest stopped before it started", "consumer", w.cfg.Ingest.Consumer)
			return nil
		}
		return err
	}
	w.log.Info("ingest started", "stream", w.cfg.Stream.EventsStream, "consumer", w.cfg.Ingest.Consumer,
		"batch_size", w.cfg.Ingest.BatchSize, "max_wait", w.cfg.Ingest.MaxWait.String())

	var fetchFailures int
	var fetchBroken time.Time
	for ctx.Err() == nil {
		msgs, err := w.fetch(cons)
		if err != nil {
			if fetchFailures == 0 {
				fetchBroken = time.Now()
				w.log.Warn("fetch failed; retrying with backoff until NATS answers", "stream", w.cfg.Stream.EventsStream, "consumer", w.cfg.Ingest.Consumer, "err", err)
			}
			fetchFailures++
			if consumerGone(err) || fetchFailures%5 == 0 {
				if c, cerr := w.ensureConsumer(ctx); cerr == nil {
					cons = c
				}
			}
			sleep(ctx, backoff(fetchFailures, w.cfg.MinBackoff, w.cfg.MaxBackoff))
			continue
		}
		if fetchFailures > 0 {
			w.log.Info("fetching again", "consumer", w.cfg.Ingest.Consumer, "failed_fetches", fetchFailures, "down_for", time.Since(fetchBroken).Round(time.Millisecond).String())
			fetchFailures = 0
		}
		if len(msgs) == 0 {
			// An idle fetch also happens when the consumer was deleted,
			// so check that it still exists.
			if _, err := cons.Info(ctx); consumerGone(err) {
				if c, cerr := w.ensureConsumer(ctx); cerr == nil {
					cons = c
				}
			}
			continue
		}
		w.handle(ctx, msgs)
	}
	if err := w.js.Conn().Flush(); err != nil {
		w.log.Warn("flush acknowledgements at shutdown; unflushed events will be redelivered and deduplicated", "err", err)
	}
	w.log.Info("ingest stopped", "consumer", w.cfg.Ingest.Consumer)
	return nil
}

// fetch returns the next batch without waiting for it to fill: the events
// already waiting, up to the batch size, or else the first event to arrive
// within MaxWait together with any that came with it. Waiting for a full
// batch would only add latency, because events pile up while the store
// writes the batch in hand, so batches grow by themselves under load.
func (w *Worker) fetch(cons jetstream.Consumer) ([]jetstream.Msg, error) {
	size := w.cfg.Ingest.BatchSize
	msgs, err := collect(cons.FetchNoWait(size))
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	msgs, err = collect(cons.Fetch(1, jetstream.FetchMaxWait(w.cfg.Ingest.MaxWait)))
	if err != nil || len(msgs) == 0 || size == 1 {
		return msgs, err
	}
	rest, err := collect(cons.FetchNoWait(size - 1))
	if err != nil {
		// The message in hand is valid; the next fetch reports the error
		// again if it persists.
		return msgs, nil
	}
	return append(msgs, rest...), nil
}

// collect drains one fetch. An error after some messages arrived is
// dropped, because the messages in hand are valid and the next fetch
// reports the error again if it persists.
func collect(batch jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && len(msgs) == 0 {
		return nil, err
	}
	return msgs, nil
}

// provision creates the events and dead-letter streams and the consumer.
func (w *Worker) provision(ctx context.Context) (jetstream.Consumer, error) {
	if _, err := streams.Ensure(ctx, w.js, streams.EventsConfig(w.cfg.Stream, w.cfg.Ingest.MaxPayload, w.cfg.StreamMaxAge), w.log); err != nil {
		return nil, err
	}
	if _, err := streams.Ensure(ctx, w.js, streams.DeadLetterConfig(w.cfg.Stream), w.log); err != nil {
		return nil, err
	}
	return w.ensureConsumer(ctx)
}

func (w *Worker) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := streams.IngestConsumerConfig(w.cfg.Ingest.Consumer, w.cfg.Ingest)
	cons, err := w.js.CreateOrUpdateConsumer(ctx, w.cfg.Stream.EventsStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", cfg.Durable, w.cfg.Stream.EventsStream, err)
	}
	return cons, nil
}

func consumerGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted)
}

// backoff returns the pause after the n-th consecutive failure: doubling
// from min, capped at max.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
