package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
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
	// MaxBytes is the largest encoded event; 0 means events.DefaultMaxBytes.
	MaxBytes int
	// Window is the most publishes awaiting an ack at once. Default 256.
	Window int
	// AckTimeout bounds the wait for each ack. Default 10s.
	AckTimeout time.Duration
}

// Publisher publishes items as data records and tallies the results.
type Publisher struct {
	js      jetstream.JetStream
	target  Target
	summary Summary
	pending []pendingAck
}

type pendingAck struct {
	origin string
	future jetstream.PubAckFuture
	err    error
}

// NewPublisher returns a publisher for target.
func NewPublisher(js jetstream.JetStream, target Target) *Publisher {
	if target.Window <= 0 {
		target.Window = 256
	}
	if target.AckTimeout <= 0 {
		target.AckTimeout = 10 * time.Second
	}
	return &Publisher{js: js, target: target}
}

// Add publishes one item asynchronously. Items that cannot be encoded are
// counted as rejected.
func (p *Publisher) Add(ctx context.Context, it Item) error {
	if it.Err != nil {
		p.summary.Rejected = append(p.summary.Rejected, Failure{Origin: it.Origin, Reason: it.Err.Error()})
		return nil
	}
	body, subject, err := events.Encode(events.Envelope{
		ID:        it.ID,
		Kind:      events.KindRecord,
		UserID:    string(p.target.User),
		SessionID: string(p.target.Session),
		Type:      p.target.Type,
		Time:      it.Time.UTC().Format(time.RFC3339Nano),
		Data:      it.Data,
	}, p.target.MaxBytes)
	if err != nil {
		p.summary.Rejected = append(p.summary.Rejected, Failure{Origin: it.Origin, Reason: err.Error()})
		return nil
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, p.target.User.MsgID(it.ID))
	f, err := p.js.PublishMsgAsync(msg)
	p.pending = append(p.pending, pendingAck{origin: it.Origin, future: f, err: err})
	if len(p.pending) >= p.target.Window {
		return p.settle(ctx)
	}
	return nil
}

// Flush waits for every outstanding ack and returns the summary.
func (p *Publisher) Flush(ctx context.Context) (Summary, error) {
	err := p.settle(ctx)
	return p.summary, err
}

func (p *Publisher) settle(ctx context.Context) error {
	for _, pa := range p.pending {
		err := pa.err
		if err == nil {
			err = p.await(ctx, pa.future)
		}
		if err != nil {
			p.summary.Unacknowledged = append(p.summary.Unacknowledged, Failure{Origin: pa.origin, Reason: err.Error()})
		}
	}
	p.pending = p.pending[:0]
	return ctx.Err()
}

func (p *Publisher) await(ctx context.Context, f jetstream.PubAckFuture) error {
	timer := time.NewTimer(p.target.AckTimeout)
	defer timer.Stop()
	select {
	case ack := <-f.Ok():
		if ack.Duplicate {
			p.summary.Duplicates++
		} else {
			p.summary.Sent++
		}
		return nil
	case err := <-f.Err():
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			return fmt.Errorf("no stream stores %s: is ingest running, or the stream provisioned? (%w)", f.Msg().Subject, err)
		}
		return err
	case <-timer.C:
		return fmt.Errorf("no ack within %v", p.target.AckTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}
