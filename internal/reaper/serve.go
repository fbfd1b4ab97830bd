package reaper

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/store"
)

// Serve connects to MongoDB and NATS with the settings in cfg and runs one
// reaper replica until ctx is cancelled. It waits for MongoDB at startup instead
// of failing, so the start order of services does not matter. The policy
// source should be reloaded by its owner, for example a policy.Watcher
// whose Run loop runs next to Serve.
func Serve(ctx context.Context, cfg *config.Config, rcfg Config, policies PolicySource, log *slog.Logger) error {
	if rcfg.StreamReplicas == 0 {
		rcfg.StreamReplicas = cfg.Stream.Replicas
	}
	st, err := connectStore(ctx, cfg.Mongo, log)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())

	nc, js, err := natsconn.Connect(cfg.NATS, "steward-reaper", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	r, err := New(js, st, rcfg, policies, log)
	if err != nil {
		return err
	}
	if err := r.Run(ctx); err != nil {
		return err
	}
	if err := nc.Drain(); err != nil {
		log.Warn("drain nats connection", "err", err)
	}
	return nil
}

// connectStore connects to MongoDB, retrying with backoff while the server
// is unreachable. It fails at once on a configuration error such as an
// invalid URI, and returns ctx's error when ctx ends first.
func connectStore(ctx context.Context, cfg config.Mongo, log *slog.Logger) (*store.Store, error) {
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
