package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/streams"
)

// Headers a dead letter carries next to the original message's headers.
const (
	HeaderReason          = "Steward-Reason"
	HeaderReasonCode      = "Steward-Reason-Code"
	HeaderOriginalSubject = "Steward-Original-Subject"
	HeaderOriginalSeq     = "Steward-Original-Seq"
	HeaderOriginalMsgID   = "Steward-Original-Msg-Id"
	HeaderRejectedAt      = "Steward-Rejected-At"
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
	for i, r := range rejects {
		futures[i], errs[i] = w.js.PublishMsgAsync(w.deadLetterMsg(r))
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i, r := range rejects {
		reason, _ := events.ReasonOf(r.err)
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
			w.log.Error("dead-letter publish failed; the event will be redelivered", append(w.ids(r.ev, r.seq, err), "reason", reason)...)
			_ = r.msg.NakWithDelay(5 * time.Second)
			continue
		}
		w.log.Warn("event rejected and dead-lettered", append(w.ids(r.ev, r.seq, r.err), "reason", reason, "subject", r.msg.Subject())...)
		if err := r.msg.TermWithReason(string(reason)); err != nil {
			w.log.Warn("terminate failed; the event will be redelivered and dead-lettered again under the same id", w.ids(r.ev, r.seq, err)...)
		}
	}
}

// deadLetterMsg returns the copy of a rejected message: the original bytes
// and headers, plus the reason. Its Nats-Msg-Id is the original stream
// sequence, so a redelivered rejection is stored once.
func (w *Worker) deadLetterMsg(r rejection) *nats.Msg {
	reason, ok := events.ReasonOf(r.err)
	if !ok {
		reason = events.ReasonMalformed
	}
	h := nats.Header{}
	for k, v := range r.msg.Headers() {
		h[k] = append([]string(nil), v...)
	}
	if id := h.Get(jetstream.MsgIDHeader); id != "" {
		h.Set(HeaderOriginalMsgID, id)
	}
	h.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s:%d", w.cfg.Stream.EventsStream, r.seq))
	h.Set(HeaderReason, r.err.Error())
	h.Set(HeaderReasonCode, string(reason))
	h.Set(HeaderOriginalSubject, r.msg.Subject())
	h.Set(HeaderOriginalSeq, strconv.FormatUint(r.seq, 10))
	h.Set(HeaderRejectedAt, time.Now().UTC().Format(time.RFC3339Nano))
	return &nats.Msg{Subject: streams.DeadLetterPrefix + "." + string(reason), Header: h, Data: r.msg.Data()}
}
