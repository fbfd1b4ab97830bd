package erasure

import (
	"context"
	"log/slog"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/store"
)

// Serve connects to MongoDB and NATS as configured in cfg and runs one
// erasure worker until ctx is cancelled. Like ingest, it waits for MongoDB
// at startup instead of failing. wcfg.Replicas 0 takes
// STEWARD_STREAM_REPLICAS.
func Serve(ctx context.Context, cfg *config.Config, wcfg WorkerConfig, log *slog.Logger) error {
	if wcfg.Replicas == 0 {
		wcfg.Replicas = cfg.Stream.Replicas
	}
	st, err := store.ConnectWait(ctx, cfg.Mongo, log)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())

	nc, js, err := natsconn.Connect(cfg.NATS, "steward-erasure", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	w := NewWorker(js, New(js, st, ConfigFrom(cfg), log), wcfg, log)
	if err := w.Run(ctx); err != nil {
		return err
	}
	if err := nc.Drain(); err != nil {
		log.Warn("drain nats connection", "err", err)
	}
	return nil
}
