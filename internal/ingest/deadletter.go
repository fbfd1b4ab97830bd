package ingest

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/deadletter"
	"github.com/stewardhq/steward/internal/events"
)

// Headers a dead letter carries next to the original message's headers;
// package deadletter defines them.
const (
	HeaderReason          = deadletter.HeaderReason
	HeaderReasonCode      = deadletter.HeaderReasonCode
	HeaderOriginalSubject = deadletter.HeaderOriginalSubject
	HeaderOriginalSeq     = deadletter.HeaderOriginalSeq
	HeaderOriginalMsgID   = deadletter.HeaderOriginalMsgID
	HeaderRejectedAt      = deadletter.HeaderRejectedAt
)

// deadLetter copies each rejected message with its reason to the
// dead-letter stream and terminates it once the copy is stored. A message
// whose copy fails is nak'ed instead, so it is never lost.
func (w *Worker) deadLetter(rejects []rejection) {
	if len(rejects) == 0 {
		return
	}
	futures := make([]jetstream.PubAckFuture, len(rejects))
	errs := make([]error, len(rejects))
	now := time.Now()
	for i, r := range rejects {
		orig := deadletter.Original{Subject: r.d.m.Subject, Header: r.d.m.Header, Data: r.d.m.Data, Sequence: r.d.m.Sequence}
		futures[i], errs[i] = w.js.PublishMsgAsync(deadletter.Build(w.cfg.Stream.EventsStream, orig, r.err, now))
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i, r := range rejects {
		reason, _ := events.ReasonOf(r.err)
		seq := r.d.m.Sequence
		err := errs[i]
		if err == nil {
			select {
			case <-futures[i].Ok():
			case err = <-futures[i].Err():
			case <-timeout.C:
				err = context.DeadlineExceeded
			}
		}
		if err != nil {
			w.log.Error("dead-letter publish failed; the event will be redelivered", append(w.ids(r.ev, seq, err), "reason", reason)...)
			_ = r.d.msg.NakWithDelay(5 * time.Second)
			continue
		}
		w.log.Warn("event rejected and dead-lettered", append(w.ids(r.ev, seq, r.err), "reason", reason, "subject", r.d.m.Subject)...)
		if err := r.d.msg.TermWithReason(string(reason)); err != nil {
			w.log.Warn("terminate failed; the event will be redelivered and dead-lettered again under the same id", w.ids(r.ev, seq, err)...)
		}
	}
}
