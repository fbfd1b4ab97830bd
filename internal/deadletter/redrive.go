package deadletter

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Redriven is one dead letter that Redrive handled.
type Redriven struct {
	Letter
	// EventsSeq is the sequence the events stream stored the republished
	// event at; 0 on a dry run or when it failed.
	EventsSeq uint64 `json:"events_seq,omitempty"`
	// Error is the reason the dead letter was not re-driven or not deleted.
	Error string `json:"error,omitempty"`
}

// RedriveReport is the outcome of Redrive.
type RedriveReport struct {
	Letters []Redriven `json:"letters"`
	// Redriven counts the events republished, Failed the dead letters that
	// were not re-driven or could not be deleted afterwards.
	Redriven int  `json:"redriven"`
	Failed   int  `json:"failed"`
	DryRun   bool `json:"dry_run,omitempty"`
}

// Redrive sends the dead letters that sel chooses through ingest again,
// for example after a policy change allows their data type. It republishes
// each one's original bytes and headers to its original subject. Once the
// events stream acknowledged the event, it deletes the dead letter.
// A dry run only lists the dead letters. A letter that fails is logged and
// counted in Failed, and the others are still re-driven; the error is for
// failures that stop the whole redrive.
//
// The republished event carries no Nats-Msg-Id, because the events stream
// would drop it as a duplicate of the original inside its duplicate window.
// Re-driving a letter twice, for example after a failed delete, is still
// safe: ingest stores an event once, keyed by user and event id.
func Redrive(ctx context.Context, js jetstream.JetStream, stream string, sel Selection, dryRun bool, log *slog.Logger) (*RedriveReport, error) {
	rep := &RedriveReport{DryRun: dryRun}
	var letters []Letter
	if err := Scan(ctx, js, stream, sel, func(l Letter) error {
		letters = append(letters, l)
		return nil
	}); err != nil {
		return rep, fmt.Errorf("read dead letters: %w", err)
	}
	if dryRun {
		for _, l := range letters {
			rep.Letters = append(rep.Letters, Redriven{Letter: l})
		}
		return rep, nil
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return rep, fmt.Errorf("redrive dead letters from %s: %w", stream, err)
	}
	for _, l := range letters {
		r := Redriven{Letter: l}
		r.EventsSeq, err = redriveOne(ctx, js, s, l)
		if err != nil {
			r.Error = err.Error()
			rep.Failed++
			log.Error("dead letter not re-driven", "dlq_seq", l.Seq, "subject", l.OriginalSubject, "reason", l.Reason, "err", err)
		} else {
			rep.Redriven++
			log.Info("dead letter re-driven", "dlq_seq", l.Seq, "subject", l.OriginalSubject, "reason", l.Reason, "stream_seq", r.EventsSeq)
		}
		rep.Letters = append(rep.Letters, r)
		if ctx.Err() != nil {
			break
		}
	}
	return rep, nil
}

// redriveOne republishes one dead letter and deletes it. It returns the
// sequence of the republished event.
func redriveOne(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, l Letter) (uint64, error) {
	if l.OriginalSubject == "" {
		return 0, fmt.Errorf("dead letter %d has no %s header; it cannot be re-driven", l.Seq, HeaderOriginalSubject)
	}
	raw, err := s.GetMsg(ctx, l.Seq)
	if err != nil {
		return 0, fmt.Errorf("get dead letter %d: %w", l.Seq, err)
	}
	msg := &nats.Msg{Subject: l.OriginalSubject, Header: nats.Header{}, Data: raw.Data}
	for k, v := range raw.Header {
		msg.Header[k] = append([]string(nil), v...)
	}
	for _, k := range addedHeaders {
		msg.Header.Del(k)
	}
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, fmt.Errorf("republish dead letter %d to %s: %w", l.Seq, l.OriginalSubject, err)
	}
	if err := s.DeleteMsg(ctx, l.Seq); err != nil {
		return ack.Sequence, fmt.Errorf("delete dead letter %d after republishing it as sequence %d: %w; re-driving it again is safe", l.Seq, ack.Sequence, err)
	}
	return ack.Sequence, nil
}
