package reaper

import (
	"context"
	"errors"
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
// slices of receive time, oldest first. Each slice ends at the receive time
// of the batchSize-th oldest expired document, so one delete command
// matches about batchSize documents rather than the whole backlog. FerretDB
// on SQLite fails a delete of more than about 32,000 documents, and a range
// on the received_at index is fast on both FerretDB and MongoDB.
//
// NOTE: a slice also takes every other document received in the same
// millisecond as its last one, so a delete can match more than batchSize
// documents when many share a receive time.
func (r *Reaper) deleteExpired(ctx context.Context, log *slog.Logger, coll *mongo.Collection, cutoff time.Time, batchSize int) (deleted int64, batches int, err error) {
	expired := expiredFilter(cutoff)
	findEnd := options.FindOne().
		SetSort(bson.D{{Key: store.FieldReceivedAt, Value: 1}}).
		SetSkip(int64(batchSize - 1)).
		SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: store.FieldReceivedAt, Value: 1}})

	for {
		if err := ctx.Err(); err != nil {
			return deleted, batches, fmt.Errorf("stopped after %d documents: %w", deleted, context.Cause(ctx))
		}

		var end struct {
			ReceivedAt time.Time `bson:"received_at"`
		}
		err := coll.FindOne(ctx, expired, findEnd).Decode(&end)
		last := errors.Is(err, mongo.ErrNoDocuments)
		if err != nil && !last {
			return deleted, batches, fmt.Errorf("find the end of the next slice of %s before %s: %w", coll.Name(), cutoff.Format(time.RFC3339Nano), err)
		}

		// Fewer than batchSize expired documents are left when there is no
		// batchSize-th one, and the last slice takes them all.
		slice := expired
		if !last {
			slice = bson.D{{Key: store.FieldReceivedAt, Value: bson.D{
				{Key: "$lt", Value: cutoff},
				{Key: "$lte", Value: end.ReceivedAt},
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
		if last {
			return deleted, batches, nil
		}
	}
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
