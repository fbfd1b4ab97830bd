package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
)

// Fields of a session document.
const (
	FieldStartedAt     = "started_at"
	FieldEndedAt       = "ended_at"
	FieldFirstReceived = "first_received_at"
	FieldLastReceived  = "last_received_at"
	FieldFirstSeq      = "first_stream_seq"
	FieldLastSeq       = "last_stream_seq"
	FieldAppName       = "app_name"
	FieldAppVersion    = "app_version"
	FieldClient        = "client"
	FieldEndData       = "end_data"
	payloadAppName     = "app_name"
	payloadAppVersion  = "app_version"
)

// SessionUpdate returns the upsert that applies a session event to its
// session document. Applying it twice leaves the same document, and a start
// and an end applied in either order give the same result.
func SessionUpdate(ev *events.Event, r Receipt) mongo.WriteModel {
	received := bson.NewDateTimeFromTime(r.ReceivedAt)
	set := bson.D{
		{Key: scope.FieldUser, Value: string(ev.User)},
		{Key: scope.FieldSession, Value: string(ev.Session)},
	}
	switch ev.Kind {
	case events.KindSessionStarted:
		set = append(set, bson.E{Key: FieldStartedAt, Value: bson.NewDateTimeFromTime(ev.ClientTime)})
		client := bson.D{}
		if data, ok := ev.Data.(bson.D); ok {
			for _, e := range data {
				switch e.Key {
				case payloadAppName:
					set = append(set, bson.E{Key: FieldAppName, Value: e.Value})
				case payloadAppVersion:
					set = append(set, bson.E{Key: FieldAppVersion, Value: e.Value})
				default:
					client = append(client, e)
				}
			}
		}
		set = append(set, bson.E{Key: FieldClient, Value: client})
	case events.KindSessionEnded:
		set = append(set, bson.E{Key: FieldEndedAt, Value: bson.NewDateTimeFromTime(ev.ClientTime)})
		if ev.Data != nil {
			set = append(set, bson.E{Key: FieldEndData, Value: ev.Data})
		}
	}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$min", Value: bson.D{{Key: FieldFirstReceived, Value: received}, {Key: FieldFirstSeq, Value: int64(r.Sequence)}}},
		{Key: "$max", Value: bson.D{{Key: FieldLastReceived, Value: received}, {Key: FieldLastSeq, Value: int64(r.Sequence)}}},
	}
	return mongo.NewUpdateOneModel().
		SetFilter(bson.D{{Key: "_id", Value: ev.User.SessionDocID(ev.Session)}}).
		SetUpdate(update).
		SetUpsert(true)
}

// UpsertSessions applies session updates in one unordered bulk write and
// returns one result per update, like InsertRecords. Two replicas that
// upsert a new session at once can race into a duplicate key error. That
// update is marked Retry, and its redelivery updates the document.
func (s *Store) UpsertSessions(ctx context.Context, models []mongo.WriteModel) ([]Result, error) {
	if err := s.EnsureSessionsCollection(ctx); err != nil {
		return nil, err
	}
	results := make([]Result, len(models))
	_, err := s.db.Collection(SessionsCollection).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err == nil {
		return results, nil
	}
	if !sortWriteErrors(err, results) {
		return nil, fmt.Errorf("upsert sessions: %w", err)
	}
	for i := range results {
		if results[i].Outcome == Duplicate {
			results[i] = Result{Outcome: Retry, Err: fmt.Errorf("concurrent upsert of the same session")}
		}
	}
	return results, nil
}
