package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stewardhq/steward/internal/config"
)

// ConnectWait connects to MongoDB like Connect, but retries with backoff
// (1 s doubling to 30 s) while the server is unreachable, so the start
// order of services does not matter. It fails at once on a configuration
// error such as an invalid URI, and returns ctx's error when ctx ends first.
func ConnectWait(ctx context.Context, cfg config.Mongo, log *slog.Logger) (*Store, error) {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		st, err := Connect(ctx, cfg, log)
		if err == nil {
			if attempt > 1 {
				log.Info("connected to mongodb", "attempt", attempt)
			}
			return st, nil
		}
		if !IsTransient(err) {
			return nil, err
		}
		if attempt == 1 {
			log.Warn("mongodb unreachable; retrying until it responds", "mongodb_uri", config.RedactURL(cfg.URI), "err", err)
		}

		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("connect to mongodb: %w", ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}
