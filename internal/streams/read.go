package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Range selects the messages of a stream that Read delivers.
type Range struct {
	// Filter is a subject filter. Empty matches every subject.
	Filter string
	// First is the first stream sequence to read. 0 means the stream's
	// first message.
	First uint64
	// Last is the last stream sequence to read. 0 means the stream's last
	// message at the moment the read starts, so that a read of a stream
	// that keeps growing still ends.
	Last uint64
	// HeadersOnly delivers messages without their bodies.
	HeadersOnly bool
}

// idleWait is how long Read waits for the next message before it checks
// whether the range holds any message it has not delivered yet.
const idleWait = 2 * time.Second

// Resolve returns r with First and Last clamped to the messages the stream
// holds now, and false when that leaves nothing to read.
func (r Range) Resolve(ctx context.Context, js jetstream.JetStream, stream string) (Range, bool, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return r, false, fmt.Errorf("read stream %s: %w", stream, err)
	}
	state := s.CachedInfo().State
	if state.Msgs == 0 {
		return r, false, nil
	}
	r.First = max(r.First, state.FirstSeq)
	if r.Last == 0 || r.Last > state.LastSeq {
		r.Last = state.LastSeq
	}
	return r, r.First <= r.Last, nil
}

// Read passes the messages of r to fn in stream order and returns after the
// last one. It reads through an ordered consumer, which is ephemeral and
// acknowledges nothing, so durable consumers of the stream are unaffected.
// An error from fn stops the read and is returned as it is.
//
// Read ends when it has delivered the message at r.Last, or when the
// server reports that no matching message follows. It also ends when it has
// waited idleWait without a message and finds no matching message left up
// to r.Last, because retention or a purge removed it meanwhile.
func Read(ctx context.Context, js jetstream.JetStream, stream string, r Range, fn func(jetstream.Msg) error) error {
	r, ok, err := r.Resolve(ctx, js, stream)
	if err != nil || !ok {
		return err
	}
	start, ok, err := SeekSeq(ctx, js, stream, r.Filter, r.First)
	if err != nil || !ok || start.Seq > r.Last {
		return err
	}

	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start.Seq,
		HeadersOnly:   r.HeadersOnly,
	}
	if r.Filter != "" {
		cfg.FilterSubjects = []string{r.Filter}
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("create ordered consumer on stream %s: %w", stream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read stream %s: %w", stream, err)
	}
	defer func() {
		msgs.Stop()
		deleteOrdered(js, stream, cons)
	}()

	last := start.Seq - 1
	for {
		waitCtx, cancel := context.WithTimeout(ctx, idleWait)
		msg, err := msgs.Next(jetstream.NextContext(waitCtx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("read stream %s after sequence %d: %w", stream, last, err)
			}
			next, ok, err := SeekSeq(ctx, js, stream, r.Filter, last+1)
			if err != nil || !ok || next.Seq > r.Last {
				return err
			}
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read stream %s after sequence %d: %w", stream, last, err)
		}
		seq := meta.Sequence.Stream
		if seq > r.Last {
			return nil
		}
		last = seq
		if err := fn(msg); err != nil {
			return err
		}
		if seq == r.Last || meta.NumPending == 0 {
			return nil
		}
	}
}

// deleteOrdered removes the server side of an ordered consumer at once
// instead of leaving it to expire after its inactivity threshold. A failure
// is harmless, so it is not reported.
func deleteOrdered(js jetstream.JetStream, stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = js.DeleteConsumer(ctx, stream, info.Name)
}
