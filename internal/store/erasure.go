package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/scope"
)

// An erasure tombstone is a document in the audit collection, keyed by the
// hash of a user id, that records up to which sequence of the events stream
// the user's events are erased. Writers skip those events, so one that was
// in flight during the erasure is not stored again. The audit collection
// suits it because stats skips that collection and no data type may take
// its name.
const (
	// TombstoneKind is the kind field of an erasure tombstone.
	TombstoneKind = "erasure_tombstone"
	// FieldKind names the kind of an audit document.
	FieldKind = "kind"
	// FieldUpToSeq is the last erased sequence of the events stream.
	FieldUpToSeq = "up_to_seq"
)

// DefaultDeleteBatchSize is the number of documents DeleteUserDocuments
// removes per delete command when the caller passes 0. FerretDB on SQLite
// fails a delete that matches more than about 32,000 documents.
const DefaultDeleteBatchSize = 5000

// UserHash returns the SHA-256 of a user id in hex. Erasure records name a
// user by it, so they can show which user was erased without storing the id.
//
// NOTE: user ids are short tokens, so a hash can be matched to a known id
// by trying candidates. It keeps ids out of plain sight; it is not
// anonymization.
func UserHash(u scope.User) string {
	sum := sha256.Sum256([]byte(u))
	return hex.EncodeToString(sum[:])
}

// PutTombstone records that the user's events up to sequence upToSeq of the
// events stream are erased. A tombstone that covers a higher sequence
// already keeps it.
func (s *Store) PutTombstone(ctx context.Context, u scope.User, stream string, upToSeq uint64, at time.Time) error {
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: FieldKind, Value: TombstoneKind},
			{Key: "stream", Value: stream},
			{Key: "updated_at", Value: bson.NewDateTimeFromTime(at)},
		}},
		{Key: "$max", Value: bson.D{{Key: FieldUpToSeq, Value: int64(upToSeq)}}},
	}
	_, err := s.db.Collection(AuditCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: UserHash(u)}}, update, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("write erasure tombstone %s: %w", UserHash(u), err)
	}
	return nil
}

// Erasures returns, for each of users that has a tombstone, the last
// sequence of the events stream its erasure covers. It reads all of them
// with one query.
func (s *Store) Erasures(ctx context.Context, users []scope.User) (map[scope.User]uint64, error) {
	byHash := make(map[string]scope.User, len(users))
	hashes := make(bson.A, 0, len(users))
	for _, u := range users {
		h := UserHash(u)
		byHash[h] = u
		hashes = append(hashes, h)
	}
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: hashes}}}, {Key: FieldKind, Value: TombstoneKind}}
	cur, err := s.db.Collection(AuditCollection).Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: FieldUpToSeq, Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("read erasure tombstones: %w", err)
	}
	var found []struct {
		Hash    string `bson:"_id"`
		UpToSeq int64  `bson:"up_to_seq"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("read erasure tombstones: %w", err)
	}
	out := make(map[scope.User]uint64, len(found))
	for _, f := range found {
		out[byHash[f.Hash]] = uint64(f.UpToSeq)
	}
	return out, nil
}

// DataCollections returns the names of the collections that hold data
// types, sorted. It includes collections of types the policy no longer
// lists, because their documents still belong to users.
func (s *Store) DataCollections(ctx context.Context) ([]string, error) {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return policy.ValidDataType(n) != nil })
	slices.Sort(names)
	return names, nil
}

// DeleteUserDocuments removes the user's documents from collection, a data
// collection or the sessions collection, and returns how many it removed.
// maxSeq 0 removes all of them. Otherwise only documents that events up to
// that stream sequence produced are removed: records by stream_seq, session
// documents by the sequence of their first event.
//
// It deletes in slices of at most batch documents, oldest first (0 means
// DefaultDeleteBatchSize), so that no single delete grows past what the
// store handles.
func (s *Store) DeleteUserDocuments(ctx context.Context, collection string, u scope.User, maxSeq uint64, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultDeleteBatchSize
	}
	seqField, timeField := FieldStreamSeq, FieldReceivedAt
	if collection == SessionsCollection {
		seqField, timeField = FieldFirstSeq, FieldLastReceived
	}
	filter := u.Filter()
	if maxSeq > 0 {
		filter = append(filter, bson.E{Key: seqField, Value: bson.D{{Key: "$lte", Value: int64(maxSeq)}}})
	}
	coll := s.db.Collection(collection)
	var deleted int64
	for {
		slice, last, err := nextSlice(ctx, coll, filter, timeField, batch)
		if err != nil {
			return deleted, fmt.Errorf("delete documents of user %s from %s: %w", UserHash(u), collection, err)
		}
		res, err := coll.DeleteMany(ctx, slice)
		if err != nil {
			return deleted, fmt.Errorf("delete documents of user %s from %s: %w", UserHash(u), collection, err)
		}
		deleted += res.DeletedCount
		if last || res.DeletedCount == 0 {
			return deleted, nil
		}
	}
}

// nextSlice returns the filter of the oldest batch documents that match
// filter, by timeField, and whether they are the last ones. Documents
// sharing the boundary time all belong to the slice, so it can hold a few
// more than batch.
func nextSlice(ctx context.Context, coll *mongo.Collection, filter bson.D, timeField string, batch int) (bson.D, bool, error) {
	opts := options.FindOne().
		SetSort(bson.D{{Key: timeField, Value: 1}}).
		SetSkip(int64(batch - 1)).
		SetProjection(bson.D{{Key: timeField, Value: 1}})
	var boundary bson.Raw
	err := coll.FindOne(ctx, filter, opts).Decode(&boundary)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return filter, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	var limit any // null, which matches a missing field, when the field is missing
	if v := boundary.Lookup(timeField); v.Type != 0 {
		limit = v
	}
	slice := append(slices.Clip(filter), bson.E{Key: timeField, Value: bson.D{{Key: "$lte", Value: limit}}})
	return slice, false, nil
}
