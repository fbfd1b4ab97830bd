package reaper

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/store"
)

// progressEvery is the number of delete commands between two progress
// records at Info level during a long cleanup.
const progressEvery = 10

// expiredFilter selects the documents received before cutoff.
func expiredFilter(cutoff time.Time) bson.D {
	return bson.D{{Key: store.FieldReceivedAt, Value: bson.D{{Key: "$lt", Value: cutoff}}}}
}

// deleteExpired deletes the documents of coll received before cutoff in
// slices of receive time, oldest first, so one delete command matches about
// batchSize documents rather than the whole backlog. FerretDB on SQLite
// fails a delete of more than about 32,000 documents, and a range of
// received_at suits the index on both FerretDB and MongoDB.
//
// The slice ends come from one sorted pass over the receive times of the
// expired documents. FerretDB sorts in memory after decoding every
// document, so finding each end with its own sorted query made a run
// quadratic in the backlog there.
//
// NOTE: a slice also takes every other document received in the same
// millisecond as its last one, so a delete can match more than batchSize
// documents when many share a receive time.
func (r *Reaper) deleteExpired(ctx context.Context, log *slog.Logger, coll *mongo.Collection, cutoff time.Time, batchSize int) (deleted int64, batches int, err error) {
	ends, err := sliceEnds(ctx, coll, cutoff, batchSize)
	if err != nil {
		return 0, 0, err
	}
	// The last slice has no end of its own: it takes whatever is left
	// before the cutoff.
	ends = append(ends, time.Time{})

	for _, end := range ends {
		if err := ctx.Err(); err != nil {
			return deleted, batches, fmt.Errorf("stopped after %d documents: %w", deleted, context.Cause(ctx))
		}
		slice := expiredFilter(cutoff)
		if !end.IsZero() {
			slice = bson.D{{Key: store.FieldReceivedAt, Value: bson.D{
				{Key: "$lt", Value: cutoff},
				{Key: "$lte", Value: end},
			}}}
		}
		res, err := coll.DeleteMany(ctx, slice)
		if err != nil {
			return deleted, batches, fmt.Errorf("delete slice %d of expired documents of %s: %w", batches+1, coll.Name(), err)
		}
		batches++
		deleted += res.DeletedCount
		log.Debug("deleted a slice of expired documents", "collection", coll.Name(), "slice_deleted", res.DeletedCount, "deleted", deleted, "batches", batches)
		if batches%progressEvery == 0 {
			log.Info("cleanup in progress", "collection", coll.Name(), "deleted", deleted, "batches", batches, "cutoff", cutoff)
		}
	}
	return deleted, batches, nil
}

// sliceEnds returns the receive time of every batchSize-th expired document
// in receive order. It reads only received_at, so its memory is bounded by
// the number of slices, not the backlog.
func sliceEnds(ctx context.Context, coll *mongo.Collection, cutoff time.Time, batchSize int) ([]time.Time, error) {
	opts := options.Find().
		SetSort(bson.D{{Key: store.FieldReceivedAt, Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: store.FieldReceivedAt, Value: 1}}).
		SetBatchSize(int32(min(batchSize, 10000)))
	cur, err := coll.Find(ctx, expiredFilter(cutoff), opts)
	if err != nil {
		return nil, fmt.Errorf("find the slices of %s before %s: %w", coll.Name(), cutoff.Format(time.RFC3339Nano), err)
	}
	defer cur.Close(ctx)

	var ends []time.Time
	for n := 1; cur.Next(ctx); n++ {
		if n%batchSize != 0 {
			continue
		}
		var doc struct {
			ReceivedAt time.Time `bson:"received_at"`
		}
		if err := cur.Decode(&doc); err != nil {
			return nil, fmt.Errorf("read a receive time of %s: %w", coll.Name(), err)
		}
		ends = append(ends, doc.ReceivedAt)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("find the slices of %s before %s: %w", coll.Name(), cutoff.Format(time.RFC3339Nano), err)
	}
	return ends, nil
}

// countExpired returns the number of documents of coll received before
// cutoff, which a real run would delete.
func countExpired(ctx context.Context, coll *mongo.Collection, cutoff time.Time) (int64, error) {
	n, err := coll.CountDocuments(ctx, expiredFilter(cutoff))
	if err != nil {
		return 0, fmt.Errorf("count documents of %s before %s: %w", coll.Name(), cutoff.Format(time.RFC3339Nano), err)
	}
	return n, nil
}
