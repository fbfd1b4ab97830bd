package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/streams"
)

// RequestSubject is the subject of erase requests. Only administrators may
// publish on it; the broker's permissions enforce that.
const RequestSubject = "steward.admin.erase"

// RequestMessage is the JSON body of an erase request, for example
// {"user_id":"alice","requested_by":"ops@example.com"}.
type RequestMessage struct {
	UserID      string `json:"user_id"`
	RequestedBy string `json:"requested_by"`
}

// WorkerConfig configures a Worker. Zero fields take their defaults.
type WorkerConfig struct {
	// Stream holds the requests until a worker has handled them; handled
	// requests are removed, so the user id in a request is not kept.
	// Default "STEWARD_ADMIN". It takes every subject under steward.admin.
	Stream string
	// Consumer is the durable consumer that all workers share, so each
	// request is handled once. Default "erasure".
	Consumer string
	// Replicas is the stream's replication factor when Run creates it.
	// Default 1.
	Replicas int
	// MaxAge is how long a request that no worker handled is kept.
	// Default 7 days.
	MaxAge time.Duration
	// AckWait is the consumer's ack wait. A running erasure reports
	// progress every AckWait/3, so this only bounds how soon a request of
	// a worker that stopped is redelivered. Default 1m.
	AckWait time.Duration
	// MaxDeliver is how often a request is attempted. Default 5.
	MaxDeliver int
	// RetryDelay is the pause before a failed request is attempted again.
	// Default 1m.
	RetryDelay time.Duration
	// FetchWait is how long one fetch waits for a request; it also bounds
	// how long Run takes to stop. Default 5s.
	FetchWait time.Duration
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.Stream == "" {
		c.Stream = "STEWARD_ADMIN"
	}
	if c.Consumer == "" {
		c.Consumer = "erasure"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.AckWait <= 0 {
		c.AckWait = time.Minute
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Minute
	}
	if c.FetchWait <= 0 {
		c.FetchWait = 5 * time.Second
	}
	return c
}

// Worker handles erase requests published on RequestSubject.
type Worker struct {
	js     jetstream.JetStream
	eraser *Eraser
	cfg    WorkerConfig
	log    *slog.Logger
}

// NewWorker returns a worker that erases through eraser.
func NewWorker(js jetstream.JetStream, eraser *Eraser, cfg WorkerConfig, log *slog.Logger) *Worker {
	return &Worker{js: js, eraser: eraser, cfg: cfg.withDefaults(), log: log}
}

// StreamConfig returns the configuration of the stream of requests.
func (c WorkerConfig) StreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "Steward administrative requests, removed once handled",
		Subjects:    []string{"steward.admin.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      c.MaxAge,
		Duplicates:  2 * time.Minute,
		Replicas:    c.Replicas,
	}
}

// Run creates the stream and consumer when they do not exist, then handles
// requests one at a time until ctx is cancelled. It finishes the erasure
// in hand before it returns nil; it returns an error only when the stream
// or consumer cannot be set up.
func (w *Worker) Run(ctx context.Context) error {
	if _, err := streams.Ensure(ctx, w.js, w.cfg.StreamConfig(), w.log); err != nil {
		return err
	}
	cons, err := w.js.CreateOrUpdateConsumer(ctx, w.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       w.cfg.Consumer,
		Description:   "Steward erasure: erase requests",
		FilterSubject: RequestSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxDeliver:    w.cfg.MaxDeliver,
		MaxAckPending: 1,
	})
	if err != nil {
		return fmt.Errorf("ensure consumer %s on %s: %w", w.cfg.Consumer, w.cfg.Stream, err)
	}
	w.log.Info("erasure worker started", "stream", w.cfg.Stream, "consumer", w.cfg.Consumer, "subject", RequestSubject)
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(w.cfg.FetchWait))
		if err != nil {
			if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				w.log.Warn("fetch erase request failed; retrying", "stream", w.cfg.Stream, "consumer", w.cfg.Consumer, "err", err)
				sleep(ctx, w.cfg.FetchWait)
			}
			continue
		}
		w.handle(ctx, msg)
	}
	w.log.Info("erasure worker stopped", "consumer", w.cfg.Consumer)
	return nil
}

// handle runs one request and settles it: ack when done, term when the
// request can never succeed, nak with RetryDelay otherwise.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("erase request without JetStream metadata; terminating it", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	attrs := []any{"stream_seq", meta.Sequence.Stream, "attempt", meta.NumDelivered}
	var body RequestMessage
	if err := json.Unmarshal(msg.Data(), &body); err != nil {
		w.log.Error(`erase request is not JSON of the form {"user_id":"...","requested_by":"..."}; dropping it`, append(attrs, "err", err)...)
		_ = msg.Term()
		return
	}
	user, err := scope.ParseUser(body.UserID)
	if err != nil {
		w.log.Error("erase request has an invalid user_id; dropping it", append(attrs, "requested_by", body.RequestedBy, "err", err)...)
		_ = msg.Term()
		return
	}
	if body.RequestedBy == "" {
		w.log.Error("erase request has no requested_by; dropping it, because an erasure must name who asked", attrs...)
		_ = msg.Term()
		return
	}

	// Keep the request from being redelivered while the erasure runs.
	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		t := time.NewTicker(w.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-workCtx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()

	rep, err := w.eraser.Erase(workCtx, Request{User: user, RequestedBy: body.RequestedBy})
	stop()
	if err != nil {
		last := meta.NumDelivered >= uint64(w.cfg.MaxDeliver)
		next := "retrying after " + w.cfg.RetryDelay.String()
		if last {
			next = "no attempts left; the request stays in the stream, run steward erase --user for this user"
		}
		w.log.Error("erasure failed; "+next, append(attrs, "user_sha256", rep.UserHash, "requested_by", body.RequestedBy, "err", err)...)
		if !last {
			_ = msg.NakWithDelay(w.cfg.RetryDelay)
		}
		return
	}
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(ackCtx); err != nil {
		w.log.Warn("ack of erase request failed; it will be handled again, which is safe", append(attrs, "user_sha256", rep.UserHash, "err", err)...)
	}
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
