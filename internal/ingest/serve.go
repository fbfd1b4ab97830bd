package ingest

import (
	"context"
	"log/slog"

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
	st, err := store.ConnectWait(ctx, cfg.Mongo, log)
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
