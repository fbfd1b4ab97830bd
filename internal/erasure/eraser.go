// Package erasure removes every trace of one user: the documents in every
// data collection and in sessions, the user's events in the events stream
// and the user's dead letters. It records an audit document that proves
// the erasure without keeping the user id.
//
// An ingest replica may hold an event of the user that it validated before
// the erasure began and stores after the first delete. To catch it, an
// erasure first writes a tombstone (see store.PutTombstone) up to the
// events stream's last sequence, and from then on writers skip the events
// it covers. The erasure then waits until the ingest consumer has
// acknowledged every event it had taken before the tombstone, and deletes a
// second time. Events published after the erasure began are stored
// normally.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/deadletter"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/streams"
)

// AuditKind is the kind field of the audit document of an erasure.
const AuditKind = "erasure"

// ErrNotSettled is wrapped by the error of an erasure whose wait for the
// ingest consumer timed out. The erasure itself ran; events that ingest
// held during it may have been stored afterwards, so run it again once
// ingest is healthy.
var ErrNotSettled = errors.New("ingest did not acknowledge the events in flight in time")

// Config configures an Eraser.
type Config struct {
	// EventsStream and DeadLetterStream are the streams to purge.
	EventsStream, DeadLetterStream string
	// IngestConsumer is the durable consumer of the ingest replicas.
	IngestConsumer string
	// SettleTimeout bounds the wait for the ingest consumer. ConfigFrom
	// sets it to twice the ingest ack wait, after which the server has
	// redelivered anything a stopped replica held. Default 1m.
	SettleTimeout time.Duration
	// PollInterval is the pause between checks of the ingest consumer
	// during that wait. Default 250ms.
	PollInterval time.Duration
	// DeleteBatchSize is the number of documents per delete command; 0
	// means store.DefaultDeleteBatchSize.
	DeleteBatchSize int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// ConfigFrom returns the Config that matches Steward's configuration.
func ConfigFrom(cfg *config.Config) Config {
	return Config{
		EventsStream:     cfg.Stream.EventsStream,
		DeadLetterStream: cfg.Stream.DeadLetterStream,
		IngestConsumer:   cfg.Ingest.Consumer,
		SettleTimeout:    2 * cfg.Ingest.AckWait,
	}
}

// Request is an erasure request for one user.
type Request struct {
	User scope.User
	// RequestedBy names who asked, for the audit document.
	RequestedBy string
}

// CollectionCount is the number of documents an erasure removed from one
// collection.
type CollectionCount struct {
	Collection string `json:"collection" bson:"collection"`
	Deleted    int64  `json:"deleted" bson:"deleted"`
}

// Report is the outcome of an erasure, and the content of its audit
// document.
type Report struct {
	// UserHash is store.UserHash of the erased user.
	UserHash    string `json:"user_sha256"`
	RequestedBy string `json:"requested_by"`
	// UpToSeq is the events stream's last sequence when the erasure began.
	UpToSeq     uint64            `json:"up_to_seq"`
	Collections []CollectionCount `json:"collections"`
	Deleted     int64             `json:"deleted"`
	// EventsPurged and DeadLettersPurged count the stream messages removed.
	EventsPurged      uint64 `json:"events_purged"`
	DeadLettersPurged uint64 `json:"dead_letters_purged"`
	// Settled reports whether the ingest consumer acknowledged in time
	// every event it had taken before the tombstone was written.
	Settled   bool      `json:"settled"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
}

// Eraser erases users.
type Eraser struct {
	js    jetstream.JetStream
	store *store.Store
	cfg   Config
	log   *slog.Logger
}

// New returns an Eraser.
func New(js jetstream.JetStream, st *store.Store, cfg Config, log *slog.Logger) *Eraser {
	if cfg.SettleTimeout <= 0 {
		cfg.SettleTimeout = time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Eraser{js: js, store: st, cfg: cfg, log: log}
}

// Erase removes the user's documents and stream messages and records the
// audit document. Erasing a user again is safe and removes whatever
// arrived since. When the wait for ingest times out, Erase still deletes a
// second time and records the audit, then returns the report with an error
// wrapping ErrNotSettled. Any other error leaves the erasure partly done;
// run it again.
func (e *Eraser) Erase(ctx context.Context, req Request) (*Report, error) {
	u := req.User
	rep := &Report{UserHash: store.UserHash(u), RequestedBy: req.RequestedBy, StartedAt: e.cfg.Now().UTC()}
	log := e.log.With("user_sha256", rep.UserHash)

	stream, err := e.js.Stream(ctx, e.cfg.EventsStream)
	if err != nil {
		return rep, fmt.Errorf("erase user %s: read stream %s: %w", rep.UserHash, e.cfg.EventsStream, err)
	}
	rep.UpToSeq = stream.CachedInfo().State.LastSeq
	if err := e.store.PutTombstone(ctx, u, e.cfg.EventsStream, rep.UpToSeq, rep.StartedAt); err != nil {
		return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
	}
	// Ingest checks tombstones after it fetches, so only events it had
	// taken before the tombstone existed can still be stored.
	inFlightUpTo, err := e.deliveredUpTo(ctx, rep.UpToSeq)
	if err != nil {
		return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
	}

	counts := map[string]int64{}
	if err := e.deleteDocuments(ctx, u, 0, counts); err != nil {
		return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
	}
	rep.DeadLettersPurged, err = deadletter.PurgeUser(ctx, e.js, e.cfg.DeadLetterStream, u)
	if err != nil {
		return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
	}
	rep.Settled, err = e.waitSettled(ctx, inFlightUpTo)
	if err != nil {
		return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
	}
	// With an empty stream nothing was in flight, and maxSeq 0 would delete
	// events that arrived during the wait.
	if rep.UpToSeq > 0 {
		if err := e.deleteDocuments(ctx, u, rep.UpToSeq, counts); err != nil {
			return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
		}
	}
	// Purging moves the consumer's ack floor past the purged events, so it
	// comes after the wait, which watches that floor.
	rep.EventsPurged, err = streams.Purge(ctx, e.js, e.cfg.EventsStream, u.SubjectFilter(events.SubjectPrefix), rep.UpToSeq+1)
	if err != nil {
		return rep, fmt.Errorf("erase user %s: %w", rep.UserHash, err)
	}
	rep.Collections = sortedCounts(counts)
	for _, c := range rep.Collections {
		rep.Deleted += c.Deleted
	}
	rep.EndedAt = e.cfg.Now().UTC()

	if err := e.writeAudit(ctx, rep); err != nil {
		return rep, fmt.Errorf("erase user %s: the data is erased, but the audit document is missing: %w", rep.UserHash, err)
	}
	log.Info("user erased", "requested_by", rep.RequestedBy, "deleted", rep.Deleted, "events_purged", rep.EventsPurged,
		"dead_letters_purged", rep.DeadLettersPurged, "up_to_seq", rep.UpToSeq, "settled", rep.Settled)
	if !rep.Settled {
		return rep, fmt.Errorf("erase user %s: consumer %s did not acknowledge up to sequence %d within %s: %w; run the erasure again once ingest is healthy",
			rep.UserHash, e.cfg.IngestConsumer, inFlightUpTo, e.cfg.SettleTimeout, ErrNotSettled)
	}
	return rep, nil
}

// deleteDocuments deletes the user's documents from every data collection
// and from sessions, adding the counts to counts. maxSeq limits the delete
// to documents of events up to that sequence; 0 deletes all.
func (e *Eraser) deleteDocuments(ctx context.Context, u scope.User, maxSeq uint64, counts map[string]int64) error {
	names, err := e.store.DataCollections(ctx)
	if err != nil {
		return err
	}
	for _, name := range append(names, store.SessionsCollection) {
		n, err := e.store.DeleteUserDocuments(ctx, name, u, maxSeq, e.cfg.DeleteBatchSize)
		counts[name] += n
		if err != nil {
			return err
		}
	}
	return nil
}

// deliveredUpTo returns the highest sequence up to upTo that the ingest
// consumer has delivered, or 0 when the consumer does not exist.
func (e *Eraser) deliveredUpTo(ctx context.Context, upTo uint64) (uint64, error) {
	info, err := e.consumerInfo(ctx)
	if err != nil || info == nil {
		return 0, err
	}
	return min(upTo, info.Delivered.Stream), nil
}

// waitSettled polls the ingest consumer until its ack floor reaches seq,
// and returns false when SettleTimeout passes first. A consumer that no
// longer exists holds nothing.
func (e *Eraser) waitSettled(ctx context.Context, seq uint64) (bool, error) {
	if seq == 0 {
		return true, nil
	}
	deadline := time.Now().Add(e.cfg.SettleTimeout)
	for {
		info, err := e.consumerInfo(ctx)
		if err != nil {
			return false, err
		}
		if info == nil || info.AckFloor.Stream >= seq {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		t := time.NewTimer(e.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// consumerInfo returns the ingest consumer's info, or nil when it does not
// exist.
func (e *Eraser) consumerInfo(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	c, err := e.js.Consumer(ctx, e.cfg.EventsStream, e.cfg.IngestConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read consumer %s on %s: %w", e.cfg.IngestConsumer, e.cfg.EventsStream, err)
	}
	return c.CachedInfo(), nil
}

// writeAudit records the erasure in the audit collection. The document
// names the user by hash only.
func (e *Eraser) writeAudit(ctx context.Context, rep *Report) error {
	collections := make(bson.A, 0, len(rep.Collections))
	for _, c := range rep.Collections {
		collections = append(collections, bson.D{{Key: "collection", Value: c.Collection}, {Key: "deleted", Value: c.Deleted}})
	}
	doc := bson.D{
		{Key: store.FieldKind, Value: AuditKind},
		{Key: "user_sha256", Value: rep.UserHash},
		{Key: "requested_by", Value: rep.RequestedBy},
		{Key: "started_at", Value: rep.StartedAt},
		{Key: "ended_at", Value: rep.EndedAt},
		{Key: "stream", Value: e.cfg.EventsStream},
		{Key: store.FieldUpToSeq, Value: int64(rep.UpToSeq)},
		{Key: "collections", Value: collections},
		{Key: "deleted", Value: rep.Deleted},
		{Key: "events_purged", Value: int64(rep.EventsPurged)},
		{Key: "dead_letters_purged", Value: int64(rep.DeadLettersPurged)},
		{Key: "settled", Value: rep.Settled},
	}
	if _, err := e.store.Database().Collection(store.AuditCollection).InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("insert into %s: %w", store.AuditCollection, err)
	}
	return nil
}

// sortedCounts returns the counts ordered by collection name.
func sortedCounts(counts map[string]int64) []CollectionCount {
	out := make([]CollectionCount, 0, len(counts))
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, CollectionCount{Collection: name, Deleted: counts[name]})
	}
	return out
}
