package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
)

// Message is one message of the events stream with the stream metadata a
// document is built from.
type Message struct {
	Subject string
	Header  nats.Header
	Data    []byte
	// Sequence is the message's stream sequence.
	Sequence uint64
	// Time is when the stream stored the message; retention counts from it.
	Time time.Time
}

// MessageOf returns the Message of a message delivered by a JetStream
// consumer. It fails for a message without JetStream metadata.
func MessageOf(m jetstream.Msg) (Message, error) {
	meta, err := m.Metadata()
	if err != nil {
		return Message{}, err
	}
	return Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Sequence: meta.Sequence.Stream, Time: meta.Timestamp}, nil
}

// Outcome is the result class of one message in Writer.Write.
type Outcome int

const (
	// Stored: the event's document is durable.
	Stored Outcome = iota
	// Duplicate: the document existed already, so the event is stored.
	Duplicate
	// Rejected: the event can never be stored as it is; Result.Err is an
	// *events.Error with the reason.
	Rejected
	// Retry: the store failed this one document for a reason that may
	// pass; write it again later.
	Retry
	// Unavailable: the store failed as a whole (unreachable, timeout), so
	// nothing is known about this document; write it again later.
	Unavailable
	// Erased: the event's user was erased after the stream stored it, so it
	// was skipped and must not be stored.
	Erased
)

var outcomeNames = [...]string{"stored", "duplicate", "rejected", "retry", "unavailable", "erased"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result is the outcome of one message.
type Result struct {
	Outcome Outcome
	// Event is the decoded event; nil when the message could not be read
	// as one.
	Event *events.Event
	// Collection is the collection the document was written to. It is
	// empty for a message that failed validation.
	Collection string
	// Err is the reason of Rejected, and the store error of Retry and
	// Unavailable.
	Err error
}

// Writer turns event messages into documents and writes them in bulk, the
// same way for the ingest worker and for a replay that restores the store.
// It acknowledges nothing: callers settle messages from the results.
type Writer struct {
	store      *store.Store
	maxPayload int
	types      func() Types
}

// NewWriter returns a Writer. maxPayload limits an encoded event in bytes,
// and 0 means events.DefaultMaxBytes. types returns the data types that
// have a retention period; Write calls it once per call.
func NewWriter(st *store.Store, maxPayload int, types func() Types) *Writer {
	return &Writer{store: st, maxPayload: maxPayload, types: types}
}

// pendingWrite is one message of a Write on its way into the store.
type pendingWrite struct {
	index int // position in the messages and results of Write
	ev    *events.Event
	doc   bson.Raw         // for a record
	model mongo.WriteModel // for a session event
}

// Write decodes and validates msgs, skips the events of erased users, and
// stores the rest: records in one unordered insert per data type, session
// events in one bulk upsert. It returns one result per message, in order.
// A document's key comes from the user and event id, and its receive time
// and sequence from the message, so writing a message again, even much
// later, leaves the same single document.
func (w *Writer) Write(ctx context.Context, msgs []Message) []Result {
	results := make([]Result, len(msgs))
	valid := w.decode(msgs, results)
	valid = w.skipErased(ctx, msgs, valid, results)
	for _, g := range groupWrites(msgs, valid, results) {
		w.writeGroup(ctx, g, results)
	}
	return results
}

// decode validates each message and returns the ones that may be stored;
// the others get their Rejected result.
func (w *Writer) decode(msgs []Message, results []Result) []*pendingWrite {
	types := w.types()
	valid := make([]*pendingWrite, 0, len(msgs))
	for i, m := range msgs {
		ev, err := events.Decode(m.Subject, m.Data, w.maxPayload)
		if err == nil {
			err = checkAdmission(ev, m.Header, types)
		}
		results[i].Event = ev
		if err != nil {
			results[i].Outcome, results[i].Err = Rejected, err
			continue
		}
		valid = append(valid, &pendingWrite{index: i, ev: ev})
	}
	return valid
}

// groupWrites builds the document or upsert of each valid message and
// groups them by collection, in order of first appearance.
func groupWrites(msgs []Message, valid []*pendingWrite, results []Result) []*writeGroup {
	var groups []*writeGroup
	byCollection := map[string]*writeGroup{}
	for _, p := range valid {
		m := msgs[p.index]
		receipt := store.Receipt{ReceivedAt: m.Time, Sequence: m.Sequence}
		collection := store.SessionsCollection
		if p.ev.Kind == events.KindRecord {
			collection = p.ev.Type
			doc, err := store.RecordDocument(p.ev, receipt)
			if err != nil {
				results[p.index].Outcome, results[p.index].Err = Rejected, err
				continue
			}
			p.doc = doc
		} else {
			p.model = store.SessionUpdate(p.ev, receipt)
		}
		g := byCollection[collection]
		if g == nil {
			g = &writeGroup{collection: collection}
			byCollection[collection] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, p)
	}
	return groups
}

// skipErased marks the events of erased users that the stream stored
// before the erasure as Erased and returns the others. When the erasures
// cannot be read, every event is Unavailable, because storing an erased
// user's event is worse than writing it again later.
func (w *Writer) skipErased(ctx context.Context, msgs []Message, valid []*pendingWrite, results []Result) []*pendingWrite {
	if len(valid) == 0 {
		return nil
	}
	users := make([]scope.User, 0, len(valid))
	seen := map[scope.User]bool{}
	for _, p := range valid {
		if !seen[p.ev.User] {
			seen[p.ev.User] = true
			users = append(users, p.ev.User)
		}
	}
	erasedUpTo, err := w.store.Erasures(ctx, users)
	if err != nil {
		for _, p := range valid {
			results[p.index].Outcome, results[p.index].Err = Unavailable, err
		}
		return nil
	}
	if len(erasedUpTo) == 0 {
		return valid
	}
	notErased := valid[:0]
	for _, p := range valid {
		if upTo, ok := erasedUpTo[p.ev.User]; ok && msgs[p.index].Sequence <= upTo {
			results[p.index].Outcome = Erased
			continue
		}
		notErased = append(notErased, p)
	}
	return notErased
}

// writeGroup is the documents of one collection in a Write.
type writeGroup struct {
	collection string
	items      []*pendingWrite
}

// writeGroup writes one group and fills in the result of each of its
// messages.
func (w *Writer) writeGroup(ctx context.Context, g *writeGroup, results []Result) {
	var outcomes []store.Result
	var err error
	if g.collection == store.SessionsCollection {
		models := make([]mongo.WriteModel, len(g.items))
		for i, p := range g.items {
			models[i] = p.model
		}
		outcomes, err = w.store.UpsertSessions(ctx, models)
	} else {
		docs := make([]bson.Raw, len(g.items))
		for i, p := range g.items {
			docs[i] = p.doc
		}
		outcomes, err = w.store.InsertRecords(ctx, g.collection, docs)
	}
	for i, p := range g.items {
		r := &results[p.index]
		r.Collection = g.collection
		if err != nil {
			r.Outcome, r.Err = Unavailable, err
			continue
		}
		switch o := outcomes[i]; o.Outcome {
		case store.Stored:
			r.Outcome = Stored
		case store.Duplicate:
			r.Outcome = Duplicate
		case store.Rejected:
			r.Outcome = Rejected
			r.Err = events.Reject(events.ReasonStoreRejected, "%s refused the document: %v", g.collection, o.Err)
		default:
			r.Outcome, r.Err = Retry, o.Err
		}
	}
}

// checkAdmission applies the rules that need more than the event itself:
// the Nats-Msg-Id header and the policy's data types.
func checkAdmission(ev *events.Event, header nats.Header, types Types) error {
	if id := header.Get(jetstream.MsgIDHeader); id != "" && id != ev.MsgID() {
		return events.Reject(events.ReasonInvalidID, "header Nats-Msg-Id is %q, want %q (<user_id>:<id>), so that equal event ids of two users never suppress each other", id, ev.MsgID())
	}
	if ev.Kind == events.KindRecord && !types.Allows(ev.Type) {
		return events.Reject(events.ReasonUnknownType, "data type %q has no retention period; add it to retentionPeriods in the policy or use one of: %s", ev.Type, strings.Join(types.Types(), ", "))
	}
	return nil
}
