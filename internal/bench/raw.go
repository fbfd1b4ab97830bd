package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/store"
)

// publishAll publishes events asynchronously with at most window awaiting
// an ack, and fails on the first rejected publish.
func publishAll(ctx context.Context, js jetstream.JetStream, evs []Event, subject func(Event) string, window int) error {
	futures := make([]jetstream.PubAckFuture, 0, window)
	settle := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish to %s: %w", f.Msg().Subject, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for _, ev := range evs {
		msg := nats.NewMsg(subject(ev))
		msg.Data = ev.Body
		msg.Header.Set(jetstream.MsgIDHeader, ev.MsgID)
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", msg.Subject, err)
		}
		futures = append(futures, f)
		if len(futures) == window {
			if err := settle(); err != nil {
				return err
			}
		}
	}
	return settle()
}

// rawJetStream measures the broker alone: async publish of every event to a
// stream of its own, then fetch and ack of all of them with no store.
func rawJetStream(ctx context.Context, js jetstream.JetStream, evs []Event, batch int, runID string) (publish, consume Result, err error) {
	name := "BENCH_RAW_" + runID
	subject := "bench." + runID
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage, MaxMsgSize: 8 << 20}); err != nil {
		return publish, consume, fmt.Errorf("create stream %s: %w", name, err)
	}
	defer js.DeleteStream(context.Background(), name)

	start := time.Now()
	if err := publishAll(ctx, js, evs, func(Event) string { return subject }, 4096); err != nil {
		return publish, consume, err
	}
	publish = rate("jetstream publish (async)", len(evs), time.Since(start))

	cons, err := js.CreateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10 * batch})
	if err != nil {
		return publish, consume, fmt.Errorf("create consumer on %s: %w", name, err)
	}
	start = time.Now()
	got := 0
	for got < len(evs) {
		b, err := cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return publish, consume, fmt.Errorf("fetch from %s: %w", name, err)
		}
		for m := range b.Messages() {
			if err := m.Ack(); err != nil {
				return publish, consume, fmt.Errorf("ack: %w", err)
			}
			got++
		}
		if err := b.Error(); err != nil && ctx.Err() != nil {
			return publish, consume, ctx.Err()
		}
	}
	consume = rate(fmt.Sprintf("jetstream fetch(%d)+ack", batch), got, time.Since(start))
	return publish, consume, nil
}

// documents decodes the events and builds the documents ingest would store,
// grouped by collection.
func documents(evs []Event) (map[string][]bson.Raw, error) {
	out := map[string][]bson.Raw{}
	now := time.Now()
	for i, e := range evs {
		ev, err := events.Decode(e.Subject, e.Body, 64<<20)
		if err != nil {
			return nil, fmt.Errorf("decode event %d: %w", i, err)
		}
		doc, err := store.RecordDocument(ev, store.Receipt{ReceivedAt: now, Sequence: uint64(i + 1)})
		if err != nil {
			return nil, fmt.Errorf("build document %d: %w", i, err)
		}
		out[ev.Type] = append(out[ev.Type], doc)
	}
	return out, nil
}

// rawStore measures the store alone: the documents of the events written
// with unordered insertMany in batches, into collections of their own that
// have the same indexes as Steward's data collections, because index upkeep
// is part of every insert's cost.
func rawStore(ctx context.Context, st *store.Store, docs map[string][]bson.Raw, batch int, runID string) (Result, error) {
	db := st.Database()
	for coll := range docs {
		if err := st.EnsureDataCollection(ctx, "bench_raw_"+coll+"_"+runID); err != nil {
			return Result{}, err
		}
	}
	n := 0
	start := time.Now()
	for coll, list := range docs {
		c := db.Collection("bench_raw_" + coll + "_" + runID)
		for i := 0; i < len(list); i += batch {
			end := min(i+batch, len(list))
			if _, err := c.InsertMany(ctx, list[i:end], options.InsertMany().SetOrdered(false)); err != nil {
				return Result{}, fmt.Errorf("insert into %s: %w", c.Name(), err)
			}
			n += end - i
		}
	}
	res := rate(fmt.Sprintf("store insertMany(%d)", batch), n, time.Since(start))
	for coll := range docs {
		_ = db.Collection("bench_raw_" + coll + "_" + runID).Drop(context.Background())
	}
	return res, nil
}
