package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
)

// MaxDocumentBytes is MongoDB's limit on a stored document (16 MiB).
const MaxDocumentBytes = 16 << 20

// Receipt is the stream metadata of a stored message. A document is a pure
// function of the event and its receipt, so a redelivered or replayed
// message produces the same document.
type Receipt struct {
	// ReceivedAt is the stream's timestamp of the message; retention counts
	// from it.
	ReceivedAt time.Time
	// Sequence is the stream sequence of the message.
	Sequence uint64
}

// RecordDocument returns the encoded document of a data record. It returns
// an *events.Error with ReasonTooLarge when the document would exceed
// MongoDB's limit.
func RecordDocument(ev *events.Event, r Receipt) (bson.Raw, error) {
	doc := bson.D{
		{Key: "_id", Value: ev.DocID()},
		{Key: scope.FieldUser, Value: string(ev.User)},
		{Key: scope.FieldSession, Value: string(ev.Session)},
		{Key: FieldEventID, Value: ev.ID},
		{Key: FieldClientTime, Value: bson.NewDateTimeFromTime(ev.ClientTime)},
		{Key: FieldReceivedAt, Value: bson.NewDateTimeFromTime(r.ReceivedAt)},
		{Key: FieldStreamSeq, Value: int64(r.Sequence)},
		{Key: FieldData, Value: ev.Data},
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, events.Reject(events.ReasonInvalidData, "encode document: %v", err)
	}
	if len(raw) > MaxDocumentBytes {
		return nil, events.Reject(events.ReasonTooLarge, "stored document would be %d bytes, MongoDB's limit is %d bytes", len(raw), MaxDocumentBytes)
	}
	return raw, nil
}

// InsertRecords writes documents of one data type in one unordered bulk
// insert and returns one result per document. The error is non-nil only
// when the write as a whole failed; then no result is meaningful and every
// document must be written again.
func (s *Store) InsertRecords(ctx context.Context, collection string, docs []bson.Raw) ([]Result, error) {
	if err := s.EnsureDataCollection(ctx, collection); err != nil {
		return nil, err
	}
	results := make([]Result, len(docs))
	_, err := s.db.Collection(collection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return results, nil
	}
	if !sortWriteErrors(err, results) {
		return nil, fmt.Errorf("insert into %s: %w", collection, err)
	}
	return results, nil
}
