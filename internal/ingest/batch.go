package ingest

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/store"
)

// item is one message of a batch on its way into the store.
type item struct {
	msg     jetstream.Msg
	ev      *events.Event
	seq     uint64
	retries uint64 // deliveries so far minus one
	doc     bson.Raw
	model   mongo.WriteModel
}

// rejection is a message that cannot be stored and goes to the dead-letter
// stream.
type rejection struct {
	msg jetstream.Msg
	ev  *events.Event // nil when the body could not be decoded
	seq uint64
	err error
}

// writeGroup is the documents of one collection in a batch, written in one
// bulk call.
type writeGroup struct {
	collection string // empty for the sessions group
	items      []*item
}

// handle stores one batch and settles every message in it: ack when stored,
// term after dead-lettering, nak with delay for a single document that may
// succeed later. Store outages hold the whole batch (see writeAll).
func (w *Worker) handle(ctx context.Context, msgs []jetstream.Msg) {
	start := time.Now()
	groups, rejects := w.prepare(msgs)
	stored := w.writeAll(ctx, groups, &rejects)
	w.deadLetter(rejects)
	w.log.Debug("batch done", "events", len(msgs), "stored", stored, "rejected", len(rejects), "took", time.Since(start).Round(time.Microsecond).String())
}

// prepare decodes and validates each message and builds its write.
func (w *Worker) prepare(msgs []jetstream.Msg) ([]*writeGroup, []rejection) {
	types := w.cfg.Types()
	var rejects []rejection
	byCollection := map[string]*writeGroup{}
	var groups []*writeGroup
	sessions := &writeGroup{}

	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			// Not a JetStream message; nothing to store or redeliver.
			w.log.Error("message without JetStream metadata; terminating it", "subject", m.Subject(), "err", err)
			_ = m.Term()
			continue
		}
		it := &item{msg: m, seq: meta.Sequence.Stream, retries: meta.NumDelivered - 1}
		ev, err := events.Decode(m.Subject(), m.Data(), w.cfg.Ingest.MaxPayload)
		if err == nil {
			err = checkAdmission(ev, m, types)
		}
		if err != nil {
			rejects = append(rejects, rejection{msg: m, ev: ev, seq: it.seq, err: err})
			continue
		}
		it.ev = ev
		receipt := store.Receipt{ReceivedAt: meta.Timestamp, Sequence: it.seq}
		if ev.Kind != events.KindRecord {
			it.model = store.SessionUpdate(ev, receipt)
			sessions.items = append(sessions.items, it)
			continue
		}
		it.doc, err = store.RecordDocument(ev, receipt)
		if err != nil {
			rejects = append(rejects, rejection{msg: m, ev: ev, seq: it.seq, err: err})
			continue
		}
		g := byCollection[ev.Type]
		if g == nil {
			g = &writeGroup{collection: ev.Type}
			byCollection[ev.Type] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, it)
	}
	if len(sessions.items) > 0 {
		groups = append(groups, sessions)
	}
	return groups, rejects
}

// checkAdmission applies the rules that need more than the event itself:
// the Nats-Msg-Id header and the policy's data types.
func checkAdmission(ev *events.Event, m jetstream.Msg, types Types) error {
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" && id != ev.MsgID() {
		return events.Reject(events.ReasonInvalidID, "header Nats-Msg-Id is %q, want %q (<user_id>:<id>), so that equal event ids of two users never suppress each other", id, ev.MsgID())
	}
	if ev.Kind == events.KindRecord && !types.Allows(ev.Type) {
		return events.Reject(events.ReasonUnknownType, "data type %q has no retention period; add it to retentionPeriods in the policy or use one of: %s", ev.Type, strings.Join(types.Types(), ", "))
	}
	return nil
}

// writeAll writes every group. A group whose write fails as a whole (the
// store is down, a timeout) is retried with backoff while its messages are
// kept alive with progress acks, so an outage costs neither CPU nor
// redeliveries. It returns the number of events stored.
func (w *Worker) writeAll(ctx context.Context, groups []*writeGroup, rejects *[]rejection) int {
	// Store calls must finish the batch in hand even after shutdown began.
	storeCtx := context.WithoutCancel(ctx)
	pending := groups
	stored := 0
	var outageStart time.Time
	attempts := 0
	lastProgress := time.Now()

	for len(pending) > 0 {
		var failed []*writeGroup
		var lastErr error
		for _, g := range pending {
			n, err := w.writeGroup(storeCtx, g, rejects)
			if err != nil {
				failed = append(failed, g)
				lastErr = err
				continue
			}
			stored += n
		}
		pending = failed
		if len(pending) == 0 {
			break
		}

		attempts++
		held := countItems(pending)
		if attempts == 1 {
			outageStart = time.Now()
			w.log.Error("store unavailable; holding the batch and pausing fetches until it is back", "held", held, "err", lastErr)
		}
		if ctx.Err() != nil {
			// Shutting down: hand the events back for redelivery.
			for _, g := range pending {
				for _, it := range g.items {
					_ = it.msg.Nak()
				}
			}
			w.log.Warn("shutdown while the store is unavailable; held events returned for redelivery", "held", held)
			return stored
		}
		if time.Since(lastProgress) >= w.cfg.Ingest.AckWait/3 {
			for _, g := range pending {
				for _, it := range g.items {
					_ = it.msg.InProgress()
				}
			}
			lastProgress = time.Now()
		}
		sleep(ctx, min(backoff(attempts, w.cfg.MinBackoff, w.cfg.MaxBackoff), w.cfg.Ingest.AckWait/3))
	}
	if attempts > 0 {
		w.log.Info("store available again; stored the held batch", "attempts", attempts, "down_for", time.Since(outageStart).Round(time.Millisecond).String())
	}
	return stored
}

// writeGroup writes one group and settles each message by its own result.
// It returns an error, settling nothing, when the write failed as a whole.
func (w *Worker) writeGroup(ctx context.Context, g *writeGroup, rejects *[]rejection) (int, error) {
	var results []store.Result
	var err error
	if g.collection == "" {
		models := make([]mongo.WriteModel, len(g.items))
		for i, it := range g.items {
			models[i] = it.model
		}
		results, err = w.store.UpsertSessions(ctx, models)
	} else {
		docs := make([]bson.Raw, len(g.items))
		for i, it := range g.items {
			docs[i] = it.doc
		}
		results, err = w.store.InsertRecords(ctx, g.collection, docs)
	}
	if err != nil {
		return 0, err
	}
	stored := 0
	for i, r := range results {
		it := g.items[i]
		switch r.Outcome {
		case store.Stored, store.Duplicate:
			if err := it.msg.Ack(); err != nil {
				w.log.Warn("ack failed; the event will be redelivered and deduplicated", w.ids(it.ev, it.seq, err)...)
			}
			stored++
		case store.Rejected:
			*rejects = append(*rejects, rejection{msg: it.msg, ev: it.ev, seq: it.seq,
				err: events.Reject(events.ReasonStoreRejected, "%s refused the document: %v", collectionName(g), r.Err)})
		case store.Retry:
			if it.retries+1 >= uint64(w.cfg.MaxStoreAttempts) {
				*rejects = append(*rejects, rejection{msg: it.msg, ev: it.ev, seq: it.seq,
					err: events.Reject(events.ReasonStoreRejected, "%s failed the document %d times, last: %v", collectionName(g), it.retries+1, r.Err)})
				continue
			}
			delay := backoff(int(it.retries)+1, time.Second, w.cfg.MaxBackoff)
			w.log.Warn("document not stored; redelivering it later", append(w.ids(it.ev, it.seq, r.Err), "collection", collectionName(g), "attempt", it.retries+1, "delay", delay.String())...)
			_ = it.msg.NakWithDelay(delay)
		}
	}
	return stored, nil
}

func collectionName(g *writeGroup) string {
	if g.collection == "" {
		return store.SessionsCollection
	}
	return g.collection
}

func countItems(groups []*writeGroup) int {
	n := 0
	for _, g := range groups {
		n += len(g.items)
	}
	return n
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
