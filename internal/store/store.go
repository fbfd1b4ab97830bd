// Package store is Steward's MongoDB layer: the document schema, bulk and
// idempotent writes, indexes, and the sorting of write errors into
// duplicates, permanent rejections and transient failures. It works with
// MongoDB and with FerretDB, so it uses no TTL indexes, transactions or
// change streams.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/stewardhq/steward/internal/config"
)

// Collections that Steward keeps for itself, next to one collection per data
// type.
const (
	SessionsCollection = "sessions"
	AuditCollection    = "audit"
)

// Document fields shared by the data collections.
const (
	FieldEventID    = "event_id"
	FieldClientTime = "client_time"
	FieldReceivedAt = "received_at"
	FieldStreamSeq  = "stream_seq"
	FieldData       = "data"
)

// Store is a connected MongoDB database.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	timeout time.Duration
	log     *slog.Logger

	ensured sync.Map // collection name -> struct{}, once its indexes exist
}

// Connect connects to MongoDB and checks the connection with a ping. Writes
// use write concern "majority" unless the URI sets another one, so an ack
// means the write survives a primary failover.
func Connect(ctx context.Context, cfg config.Mongo, log *slog.Logger) (*Store, error) {
	opts := options.Client().ApplyURI(cfg.URI).SetTimeout(cfg.Timeout)
	if opts.WriteConcern == nil {
		opts.SetWriteConcern(writeconcern.Majority())
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb %s: %w", config.RedactURL(cfg.URI), err)
	}
	s := &Store{client: client, db: client.Database(cfg.Database), timeout: cfg.Timeout, log: log}
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("connect to mongodb %s: %w", config.RedactURL(cfg.URI), err)
	}
	return s, nil
}

// Close disconnects from MongoDB.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the server responds.
func (s *Store) Ping(ctx context.Context) error {
	return s.client.Ping(ctx, nil)
}

// Database returns the underlying database, for the packages that read and
// delete through scope filters (stats, reaper, erasure).
func (s *Store) Database() *mongo.Database { return s.db }

// EnsureDataCollection creates the indexes of a data type's collection once
// per process: by user and receive time for per-user queries and erasure,
// by receive time for retention scans, and by user and session.
func (s *Store) EnsureDataCollection(ctx context.Context, name string) error {
	if _, ok := s.ensured.Load(name); ok {
		return nil
	}
	err := createIndexes(ctx, s.db.Collection(name), []mongo.IndexModel{
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: FieldReceivedAt, Value: 1}}, Options: options.Index().SetName("user_received")},
		{Keys: bson.D{{Key: FieldReceivedAt, Value: 1}}, Options: options.Index().SetName("received")},
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "session_id", Value: 1}}, Options: options.Index().SetName("user_session")},
	})
	if err != nil {
		return err
	}
	s.ensured.Store(name, struct{}{})
	return nil
}

// EnsureSessionsCollection creates the indexes of the sessions collection.
func (s *Store) EnsureSessionsCollection(ctx context.Context) error {
	if _, ok := s.ensured.Load(SessionsCollection); ok {
		return nil
	}
	err := createIndexes(ctx, s.db.Collection(SessionsCollection), []mongo.IndexModel{
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "session_id", Value: 1}}, Options: options.Index().SetName("user_session")},
		{Keys: bson.D{{Key: "last_received_at", Value: 1}}, Options: options.Index().SetName("last_received")},
	})
	if err != nil {
		return err
	}
	s.ensured.Store(SessionsCollection, struct{}{})
	return nil
}

// createIndexes creates each index in its own call. Creating existing
// indexes is a no-op, but FerretDB 1.24 panics when one createIndexes call
// names more than one index that already exists.
func createIndexes(ctx context.Context, c *mongo.Collection, models []mongo.IndexModel) error {
	for _, m := range models {
		if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create indexes of %s: %w", c.Name(), err)
		}
	}
	return nil
}
