package reaper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
)

// maxSessionPage is the largest number of session documents read and
// deleted at once. Each session costs one lookup per data collection, and
// FerretDB on SQLite deletes by _id slowly, so pages stay smaller than the
// delete batches of data documents.
const maxSessionPage = 1000

// sessionKey is the part of a session document that cleanup reads.
type sessionKey struct {
	ID      string `bson:"_id"`
	User    string `bson:"user_id"`
	Session string `bson:"session_id"`
}

// cleanSessions removes the session documents whose last_received_at is
// before cutoff and that have no document left in any data collection. It
// pages through the candidates by _id, at most batchSize and
// maxSessionPage at a time.
//
// Every collection of the database except sessions, audit and system.* is
// checked as a data collection, including those of data types no longer in
// the policy, so a session is never removed while some of its data remains.
// A dry run deletes nothing, so it counts a session as empty when each of
// its documents in a collection of survivors is older than that
// collection's cutoff, and it has none in the other collections.
//
// NOTE: a data document stored for the session between the check and the
// delete leaves it without a session document. Its session events are
// older than the longest retention period by then, so only a very late
// client can cause that.
func (r *Reaper) cleanSessions(ctx context.Context, db *mongo.Database, cutoff time.Time, survivors map[string]time.Time, dryRun bool, batchSize int) (deleted int64, batches int, err error) {
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return 0, 0, fmt.Errorf("list collections of database %s: %w", db.Name(), err)
	}
	var dataCollections []string
	for _, name := range names {
		if name != store.SessionsCollection && name != store.AuditCollection && !strings.HasPrefix(name, "system.") {
			dataCollections = append(dataCollections, name)
		}
	}

	pageSize := min(batchSize, maxSessionPage)
	sessions := db.Collection(store.SessionsCollection)
	find := options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetLimit(int64(pageSize)).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: scope.FieldUser, Value: 1}, {Key: scope.FieldSession, Value: 1}})
	old := bson.E{Key: store.FieldLastReceived, Value: bson.D{{Key: "$lt", Value: cutoff}}}

	after := ""
	for {
		filter := bson.D{old}
		if after != "" {
			filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		cur, err := sessions.Find(ctx, filter, find)
		if err != nil {
			return deleted, batches, fmt.Errorf("find sessions last received before %s: %w", cutoff.Format(time.RFC3339Nano), err)
		}
		var page []sessionKey
		if err := cur.All(ctx, &page); err != nil {
			return deleted, batches, fmt.Errorf("read sessions last received before %s: %w", cutoff.Format(time.RFC3339Nano), err)
		}

		var empty []string
		for _, k := range page {
			user, session, ok := parseSessionKey(k)
			if !ok {
				r.log.Warn("session document has an invalid user or session id; keeping it", "collection", store.SessionsCollection, "session_doc_id", k.ID)
				continue
			}
			has, err := hasData(ctx, db, dataCollections, user, session, survivors, dryRun)
			if err != nil {
				return deleted, batches, err
			}
			if !has {
				empty = append(empty, user.SessionDocID(session))
			}
		}

		switch {
		case dryRun:
			deleted += int64(len(empty))
		case len(empty) > 0:
			// The cutoff condition keeps a session that received an event
			// since the check.
			res, err := sessions.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: empty}}}, old})
			if err != nil {
				return deleted, batches, fmt.Errorf("delete %d sessions without data: %w", len(empty), err)
			}
			batches++
			deleted += res.DeletedCount
		}

		if len(page) < pageSize {
			return deleted, batches, nil
		}
		after = page[len(page)-1].ID
	}
}

func parseSessionKey(k sessionKey) (scope.User, scope.Session, bool) {
	user, err := scope.ParseUser(k.User)
	if err != nil {
		return "", "", false
	}
	session, err := scope.ParseSession(k.Session)
	if err != nil {
		return "", "", false
	}
	return user, session, true
}

// hasData reports whether any data collection holds a document of the
// session that this run keeps.
func hasData(ctx context.Context, db *mongo.Database, collections []string, user scope.User, session scope.Session, survivors map[string]time.Time, dryRun bool) (bool, error) {
	probe := options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})
	for _, name := range collections {
		filter := user.SessionFilter(session)
		if cutoff, ok := survivors[name]; ok && dryRun {
			filter = append(filter, bson.E{Key: store.FieldReceivedAt, Value: bson.D{{Key: "$gte", Value: cutoff}}})
		}
		err := db.Collection(name).FindOne(ctx, filter, probe).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("look up data of session %s of user %s in %s: %w", session, user, name, err)
		}
		return true, nil
	}
	return false, nil
}
