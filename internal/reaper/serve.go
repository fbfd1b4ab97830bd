package reaper

import (
	"context"
	"log/slog"

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
	st, err := store.ConnectWait(ctx, cfg.Mongo, log)
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
