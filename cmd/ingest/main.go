// Command ingest is the worker that stores events from the JetStream events
// stream in MongoDB. Run as many replicas as needed; they share one durable
// consumer. It is configured by STEWARD_* environment variables (see the
// README) and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/logging"
	"github.com/stewardhq/steward/internal/policy"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingest: invalid configuration:\n%v\n", err)
		return 2
	}
	log, err := logging.New(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingest: %v\n", err)
		return 2
	}
	log = log.With("component", "ingest")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pol, err := policy.NewWatcher(cfg.PolicyFile, log)
	if err != nil {
		log.Error("load retention policy", "path", cfg.PolicyFile, "err", err)
		return 2
	}
	go pol.Run(ctx, 10*time.Second)

	if err := ingest.Serve(ctx, cfg, pol, log); err != nil && ctx.Err() == nil {
		log.Error("ingest failed", "err", err)
		return 1
	}
	return 0
}
