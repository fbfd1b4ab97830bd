package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/store"
)

// Serve connects to NATS and MongoDB with the settings of cfg and runs one ingest
// replica until ctx is cancelled. The policy watcher supplies the allowed
// data types and the events stream's max age. Serve waits for MongoDB at
// startup instead of failing, so the start order of services does not
// matter.
func Serve(ctx context.Context, cfg *config.Config, pol *policy.Watcher, log *slog.Logger) error {
	log.Info("ingest starting", "config", cfg)
	st, err := ConnectStore(ctx, cfg.Mongo, log)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())

	nc, js, err := natsconn.Connect(cfg.NATS, "steward-ingest", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	p := pol.Current()
	w := New(js, st, Config{
		Stream:       cfg.Stream,
		Ingest:       cfg.Ingest,
		StreamMaxAge: p.Longest() + p.Interval,
		Types:        func() Types { return pol.Current() },
	}, log)
	if err := w.Run(ctx); err != nil {
		return err
	}
	if err := nc.Drain(); err != nil {
		log.Warn("drain nats connection", "err", err)
	}
	return nil
}

// ConnectStore connects to MongoDB, retrying with backoff while the server
// is unreachable. It fails at once on a configuration error such as an
// invalid URI, and returns ctx's error when ctx ends first.
func ConnectStore(ctx context.Context, cfg config.Mongo, log *slog.Logger) (*store.Store, error) {
	for attempt := 1; ; attempt++ {
		st, err := store.Connect(ctx, cfg, log)
		if err == nil {
			if attempt > 1 {
				log.Info("connected to mongodb", "attempt", attempt)
			}
			return st, nil
		}
		if !store.IsTransient(err) {
			return nil, err
		}
		if attempt == 1 {
			log.Warn("mongodb unreachable; retrying until it answers", "mongodb_uri", config.RedactURL(cfg.URI), "err", err)
		}
		sleep(ctx, backoff(attempt, time.Second, 30*time.Second))
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to mongodb: %w", ctx.Err())
		}
	}
}
