package ingest

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/store"
)

// delivery is one message of a batch with what settling it needs.
type delivery struct {
	msg     jetstream.Msg
	m       Message
	retries uint64 // deliveries so far minus one
}

// rejection is a message that cannot be stored and goes to the dead-letter
// stream.
type rejection struct {
	d   *delivery
	ev  *events.Event // nil when the body could not be decoded
	err error
}

// handle stores one batch and settles every message in it: ack when stored
// or skipped for an erased user, term after dead-lettering, nak with delay
// for a single document that may succeed later. Store outages hold the
// whole batch (see writeAll).
func (w *Worker) handle(ctx context.Context, msgs []jetstream.Msg) {
	start := time.Now()
	batch := make([]*delivery, 0, len(msgs))
	for _, msg := range msgs {
		m, err := MessageOf(msg)
		if err != nil {
			// Not a JetStream message; nothing to store or redeliver.
			w.log.Error("message without JetStream metadata; terminating it", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			continue
		}
		meta, _ := msg.Metadata()
		batch = append(batch, &delivery{msg: msg, m: m, retries: meta.NumDelivered - 1})
	}
	stop := w.keepAlive(batch)
	stored, rejects := w.writeAll(ctx, batch)
	w.deadLetter(rejects)
	stop()
	w.log.Debug("batch done", "events", len(msgs), "stored", stored, "rejected", len(rejects), "took", time.Since(start).Round(time.Microsecond).String())
}

// keepAlive sends a progress ack for every message of the batch each third
// of the ack wait until stop is called, so a slow or hanging store call does
// not let the server redeliver the batch to another replica. Messages that
// are settled already reject the progress ack, which is ignored.
func (w *Worker) keepAlive(batch []*delivery) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(w.cfg.Ingest.AckWait / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				for _, d := range batch {
					_ = d.msg.InProgress()
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// writeAll writes the batch and settles each message by its result. When
// the store fails as a whole (it is down, a timeout), the messages it could
// not take are written again with backoff while keepAlive's progress acks
// keep them from redelivery, so an outage costs neither CPU nor
// redeliveries. It returns the
// number of events stored and the messages to dead-letter.
func (w *Worker) writeAll(ctx context.Context, batch []*delivery) (int, []rejection) {
	// Store calls must finish the batch in hand even after shutdown began.
	storeCtx := context.WithoutCancel(ctx)
	pending := batch
	stored := 0
	var rejects []rejection
	var outageStart time.Time
	attempts := 0

	for len(pending) > 0 {
		msgs := make([]Message, len(pending))
		for i, d := range pending {
			msgs[i] = d.m
		}
		results := w.writer.Write(storeCtx, msgs)
		var unavailable []*delivery
		var lastErr error
		for i, r := range results {
			d := pending[i]
			switch r.Outcome {
			case Stored, Duplicate:
				if err := d.msg.Ack(); err != nil {
					w.log.Warn("ack failed; the event will be redelivered and deduplicated", w.ids(r.Event, d.m.Sequence, err)...)
				}
				stored++
			case Erased:
				w.log.Info("event of an erased user skipped", "user_sha256", store.UserHash(r.Event.User), "event_id", r.Event.ID, "stream_seq", d.m.Sequence)
				if err := d.msg.Ack(); err != nil {
					w.log.Warn("ack failed; the event will be redelivered and skipped again", "user_sha256", store.UserHash(r.Event.User), "stream_seq", d.m.Sequence, "err", err)
				}
			case Rejected:
				rejects = append(rejects, rejection{d: d, ev: r.Event, err: r.Err})
			case Retry:
				if rej, ok := w.retryLater(d, r); !ok {
					rejects = append(rejects, rej)
				}
			case Unavailable:
				unavailable = append(unavailable, d)
				lastErr = r.Err
			}
		}
		pending = unavailable
		if len(pending) == 0 {
			break
		}

		attempts++
		if attempts == 1 {
			outageStart = time.Now()
			w.log.Error("store unavailable; holding the batch and pausing fetches until it is back", "held", len(pending), "err", lastErr)
		}
		if ctx.Err() != nil {
			// Shutting down: hand the events back for redelivery.
			for _, d := range pending {
				_ = d.msg.Nak()
			}
			w.log.Warn("shutdown while the store is unavailable; held events returned for redelivery", "held", len(pending))
			return stored, rejects
		}
		sleep(ctx, min(backoff(attempts, w.cfg.MinBackoff, w.cfg.MaxBackoff), w.cfg.Ingest.AckWait/3))
	}
	if attempts > 0 {
		w.log.Info("store available again; stored the held batch", "attempts", attempts, "down_for", time.Since(outageStart).Round(time.Millisecond).String())
	}
	return stored, rejects
}

// retryLater naks a message whose document failed alone, with a delay that
// grows with its deliveries. After MaxStoreAttempts deliveries it returns
// the message's rejection instead, and false.
func (w *Worker) retryLater(d *delivery, r Result) (rejection, bool) {
	if d.retries+1 >= uint64(w.cfg.MaxStoreAttempts) {
		return rejection{d: d, ev: r.Event,
			err: events.Reject(events.ReasonStoreRejected, "%s failed the document %d times, last: %v", r.Collection, d.retries+1, r.Err)}, false
	}
	delay := backoff(int(d.retries)+1, time.Second, w.cfg.MaxBackoff)
	w.log.Warn("document not stored; redelivering it later", append(w.ids(r.Event, d.m.Sequence, r.Err), "collection", r.Collection, "attempt", d.retries+1, "delay", delay.String())...)
	_ = d.msg.NakWithDelay(delay)
	return rejection{}, true
}

// ids returns the log attributes that identify an event.
func (w *Worker) ids(ev *events.Event, seq uint64, err error) []any {
	attrs := []any{"stream_seq", seq}
	if ev != nil {
		attrs = append(attrs, "event_id", ev.ID, "user_id", string(ev.User), "session_id", string(ev.Session))
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	return attrs
}
