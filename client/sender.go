package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/events"
)

// flight is one outbox message on its way to the stream.
type flight struct {
	msg    outbox.Message
	future jetstream.PubAckFuture // nil once resolved or when never published
	ack    *jetstream.PubAck      // the stream's acknowledgement
	reject error                  // the reason the message can never be published
}

// sender publishes the outbox in sequence order. The stream receives each
// session's events in record order because the sender publishes a window of
// messages over one connection, and after any failure it waits for the
// whole window, then publishes again from the first unacknowledged message.
// At the start, after a reconnect and after a failure the window is one
// message until the first acknowledgement. Otherwise a stream that becomes
// available while a window is in flight would store the window's later
// messages before its first ones.
// NOTE: the order can still break if the server fails to store a message
// and stores the one after it from the same window: a storage error, or a
// stream that changes its leader in a cluster.
type sender struct {
	c *Client
	// next is the sequence of the next message to publish.
	next     uint64
	inflight []flight
	bytes    int64 // stored size of the messages in flight
	// ackedAhead contains acknowledgements that arrived behind a failed
	// message, so the resend skips those messages.
	ackedAhead map[uint64]*jetstream.PubAck
	// failures counts consecutive failed attempts; 0 while publishing works.
	failures int
	// probing limits the window to one message until an acknowledgement
	// shows that the stream stores messages.
	probing bool
}

func (c *Client) publishLoop(ctx context.Context) {
	defer close(c.done)
	s := &sender{c: c, next: c.ob.Cursor(), ackedAhead: map[uint64]*jetstream.PubAck{}, probing: true}
	for ctx.Err() == nil {
		if !c.nc.IsConnected() {
			select {
			case <-ctx.Done():
			case <-c.connChanged:
			}
			// A restarted server may not have loaded the stream yet.
			s.probing = true
			continue
		}
		if err := s.fill(); err != nil {
			s.retry(ctx, err)
			continue
		}
		if len(s.inflight) == 0 {
			select {
			case <-ctx.Done():
			case <-c.ob.Appended():
			case <-c.connChanged:
			}
			continue
		}
		s.resolveHead(ctx)
	}
}

// fill publishes outbox messages until the window is full. It returns the
// error of a publish that failed before it was sent.
func (s *sender) fill() error {
	c := s.c
	window := c.cfg.MaxInFlight
	if s.probing {
		window = 1
	}
	for len(s.inflight) < window && s.bytes < maxInFlightBytes {
		msgs, err := c.ob.Read(s.next, window-len(s.inflight), maxInFlightBytes-s.bytes)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		for _, m := range msgs {
			f := flight{msg: m}
			switch {
			case m.Corrupt != nil:
				f.reject = fmt.Errorf("the outbox record is damaged on disk: %w", m.Corrupt)
			case s.ackedAhead[m.Seq] != nil:
				f.ack = s.ackedAhead[m.Seq]
				delete(s.ackedAhead, m.Seq)
			default:
				msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
				// No retries inside nats.go: a retried message could land
				// after the ones published behind it.
				f.future, err = c.js.PublishMsgAsync(msg, jetstream.WithMsgID(m.ID), jetstream.WithRetryAttempts(0))
				if errors.Is(err, nats.ErrMaxPayload) {
					f.reject = fmt.Errorf("it is larger than the server's max payload of %d bytes", c.nc.MaxPayload())
				} else if err != nil {
					return err
				}
			}
			s.inflight = append(s.inflight, f)
			s.bytes += int64(len(m.Data))
			s.next = m.Seq + 1
		}
	}
	return nil
}

// resolveHead waits for the oldest message in flight and settles it.
func (s *sender) resolveHead(ctx context.Context) {
	h := &s.inflight[0]
	if h.future != nil {
		select {
		case ack := <-h.future.Ok():
			h.ack = ack
		case err := <-h.future.Err():
			h.future = nil
			if !permanent(err) {
				s.retry(ctx, err)
				return
			}
			h.reject = err
		case <-ctx.Done():
			return
		}
		h.future = nil
	}
	done := *h
	s.inflight[0] = flight{}
	s.inflight = s.inflight[1:]
	s.bytes -= int64(len(done.msg.Data))
	s.settle(done)
}

// settle reports a resolved message and removes it from the outbox.
func (s *sender) settle(f flight) {
	c := s.c
	eventID, session := describe(f.msg)
	if f.reject != nil {
		c.rejected.Add(1)
		err := &PublishError{EventID: eventID, SessionID: session, Err: f.reject}
		c.log.Error("event rejected; removed it from the outbox", "event_id", eventID, "session_id", session, "subject", f.msg.Subject, "err", f.reject)
		if c.cfg.OnError != nil {
			c.cfg.OnError(err)
		}
	} else {
		if s.failures > 0 {
			c.log.Info("publishing works again", "attempt", s.failures+1)
			s.failures = 0
		}
		s.probing = false
		if f.ack.Duplicate {
			c.duplicates.Add(1)
		} else {
			c.sent.Add(1)
		}
		if c.cfg.OnAck != nil {
			c.cfg.OnAck(Ack{EventID: eventID, SessionID: session, Stream: f.ack.Stream, Sequence: f.ack.Sequence, Duplicate: f.ack.Duplicate})
		}
	}
	if err := c.ob.Ack(f.msg.Seq); err != nil {
		c.log.Warn("update outbox after an acknowledgement failed; the event may be sent again after a restart, and the stream drops it as a duplicate", "event_id", eventID, "err", err)
	}
	c.notifyProgress()
}

// retry handles a failed publish: it waits for the rest of the window,
// keeping the acknowledgements that arrived, pauses, and rewinds to the
// first unacknowledged message.
func (s *sender) retry(ctx context.Context, err error) {
	c := s.c
	for _, f := range s.inflight {
		if f.future == nil {
			if f.ack != nil {
				s.ackedAhead[f.msg.Seq] = f.ack
			}
			continue
		}
		select {
		case ack := <-f.future.Ok():
			s.ackedAhead[f.msg.Seq] = ack
		case <-f.future.Err():
		case <-ctx.Done():
			return
		}
	}
	if len(s.inflight) > 0 {
		s.next = s.inflight[0].msg.Seq
	}
	clear(s.inflight)
	s.inflight = s.inflight[:0]
	s.bytes = 0

	s.probing = true
	s.failures++
	if s.failures == 1 {
		n, b := c.ob.Stats()
		c.log.Warn("publish failed; events stay in the outbox and are sent again", "pending", n, "bytes", b, "err", explain(err))
		if c.cfg.OnError != nil {
			msgs, _ := c.ob.Read(s.next, 1, 1)
			pe := &PublishError{Temporary: true, Err: explain(err)}
			if len(msgs) > 0 {
				pe.EventID, pe.SessionID = describe(msgs[0])
			}
			c.cfg.OnError(pe)
		}
	}
	if !c.nc.IsConnected() {
		return // the loop waits for the connection
	}
	timer := time.NewTimer(backoff(s.failures, c.cfg.MaxRetryWait))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// backoff returns the pause after the given number of consecutive
// failures: 100ms doubling up to limit, with up to 20% random jitter so
// that many clients do not retry in step.
func backoff(failures int, limit time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// permanent reports whether a publish error can never go away by sending
// the same message again.
func permanent(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
	}
	return errors.Is(err, nats.ErrMaxPayload)
}

// explain adds the likely cause to errors whose own text does not say it.
func explain(err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		return fmt.Errorf("no stream stores the events subjects; is ingest running, or the stream provisioned? (%w)", err)
	}
	return err
}

// describe returns the event id and session id of an outbox message, for
// reports.
func describe(m outbox.Message) (eventID, session string) {
	_, eventID, _ = strings.Cut(m.ID, ":")
	if addr, err := events.ParseSubject(m.Subject); err == nil {
		session = addr.Session
	}
	return eventID, session
}
