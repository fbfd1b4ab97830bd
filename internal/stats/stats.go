// Package stats counts stored documents per data type and per user, for
// `steward stats`.
package stats

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
)

// Row is the number of documents one user has in one collection.
type Row struct {
	Collection string `json:"collection"`
	User       string `json:"user_id"`
	Documents  int64  `json:"documents"`
}

// Report is the result of Collect.
type Report struct {
	Rows []Row `json:"rows"`
	// Total counts the documents of the data collections, without sessions.
	Total int64 `json:"total"`
}

// Collect counts the documents of every data collection and of the sessions
// collection, grouped by user. A non-empty user limits the counts to that
// user's documents.
func Collect(ctx context.Context, db *mongo.Database, user scope.User) (*Report, error) {
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	slices.Sort(names)
	rep := &Report{}
	for _, name := range names {
		if name == store.AuditCollection || strings.HasPrefix(name, "system.") {
			continue
		}
		if name != store.SessionsCollection && policy.ValidDataType(name) != nil {
			continue
		}
		rows, err := countByUser(ctx, db.Collection(name), user)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
		if name != store.SessionsCollection {
			for _, r := range rows {
				rep.Total += r.Documents
			}
		}
	}
	return rep, nil
}

func countByUser(ctx context.Context, c *mongo.Collection, user scope.User) ([]Row, error) {
	pipeline := mongo.Pipeline{}
	if user != "" {
		pipeline = append(pipeline, bson.D{{Key: "$match", Value: user.Filter()}})
	}
	pipeline = append(pipeline,
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$" + scope.FieldUser}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
		bson.D{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}},
	)
	cur, err := c.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("count documents of %s: %w", c.Name(), err)
	}
	var groups []struct {
		User string `bson:"_id"`
		N    int64  `bson:"n"`
	}
	if err := cur.All(ctx, &groups); err != nil {
		return nil, fmt.Errorf("count documents of %s: %w", c.Name(), err)
	}
	rows := make([]Row, 0, len(groups))
	for _, g := range groups {
		rows = append(rows, Row{Collection: c.Name(), User: g.User, Documents: g.N})
	}
	return rows, nil
}
