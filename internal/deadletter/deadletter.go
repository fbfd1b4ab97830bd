// Package deadletter is the dead-letter stream: the form of a dead letter,
// listing dead letters, re-driving them through ingest after a fix, and
// purging one user's dead letters.
//
// A dead letter is a copy of a rejected event message: the original bytes
// and headers, plus headers with the reason and the original subject and
// sequence. Its subject is
//
//	steward.dlq.<reason>.<original subject without "steward.events.">
//
// for example steward.dlq.unknown_type.alice.s1.record.screenshots, so the
// reason and the user can both be selected by subject filter.
package deadletter

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
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

// addedHeaders are the headers Build adds, which Redrive removes again.
var addedHeaders = []string{HeaderReason, HeaderReasonCode, HeaderOriginalSubject, HeaderOriginalSeq, HeaderOriginalMsgID, HeaderRejectedAt, jetstream.MsgIDHeader}

// noAddress replaces the rest of an original subject that is not under
// events.SubjectPrefix, which the events stream never stores. It is not a
// valid user id, so no user's filter matches it.
const noAddress = "~"

// Original is the rejected message a dead letter copies.
type Original struct {
	Subject string
	Header  nats.Header
	Data    []byte
	// Sequence is the message's sequence in the events stream.
	Sequence uint64
}

// Subject returns the subject of the dead letter of a message that was
// published on originalSubject and rejected for reason.
func Subject(reason events.Reason, originalSubject string) string {
	rest, ok := strings.CutPrefix(originalSubject, events.SubjectPrefix+".")
	if !ok || rest == "" {
		rest = noAddress
	}
	return streams.DeadLetterPrefix + "." + string(reason) + "." + rest
}

// ReasonFilter returns the subject filter of the dead letters of one reason.
func ReasonFilter(reason events.Reason) string {
	return streams.DeadLetterPrefix + "." + string(reason) + ".>"
}

// UserFilter returns the subject filter of the dead letters of messages
// published on the user's subjects.
func UserFilter(u scope.User) string {
	return u.SubjectFilter(streams.DeadLetterPrefix + ".*")
}

// Build returns the dead letter of orig, rejected with err at the given
// time. Its Nats-Msg-Id is "<events stream>:<sequence>", so a message that
// is dead-lettered again after a redelivery is stored once. The original
// Nats-Msg-Id moves to Steward-Original-Msg-Id.
func Build(eventsStream string, orig Original, err error, at time.Time) *nats.Msg {
	reason, ok := events.ReasonOf(err)
	if !ok {
		reason = events.ReasonMalformed
	}
	h := nats.Header{}
	for k, v := range orig.Header {
		h[k] = append([]string(nil), v...)
	}
	if id := h.Get(jetstream.MsgIDHeader); id != "" {
		h.Set(HeaderOriginalMsgID, id)
	}
	h.Set(jetstream.MsgIDHeader, eventsStream+":"+strconv.FormatUint(orig.Sequence, 10))
	h.Set(HeaderReason, err.Error())
	h.Set(HeaderReasonCode, string(reason))
	h.Set(HeaderOriginalSubject, orig.Subject)
	h.Set(HeaderOriginalSeq, strconv.FormatUint(orig.Sequence, 10))
	h.Set(HeaderRejectedAt, at.UTC().Format(time.RFC3339Nano))
	return &nats.Msg{Subject: Subject(reason, orig.Subject), Header: h, Data: orig.Data}
}
