// Command reaper deletes stored documents whose retention period is over.
//
// Without flags it is a worker: it runs a cleanup on every tick of the
// JetStream message schedule, shared with its other replicas, until SIGINT
// or SIGTERM, and exits 0 after a clean stop. With -once it runs one
// cleanup now, without NATS, prints a table of what it removed and exits
// non-zero when the cleanup failed:
//
//	reaper -once                          delete what is expired now
//	reaper -once -dry-run                 count it, delete nothing
//	reaper -once -dry-run -as-of 2026-06-01  count what will be expired then
//
// It is configured by the STEWARD_* environment variables of every Steward
// program plus the reaper's own (see reaper.Config).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/erasure"
	"github.com/stewardhq/steward/internal/logging"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
	"github.com/stewardhq/steward/internal/store"
)

// policyPollInterval is how often the worker rereads the policy file, so an
// edit takes effect by the next tick at the latest.
const policyPollInterval = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line flags.
type options struct {
	once   bool
	dryRun bool
	asOf   time.Time // zero means now
}

// run runs the program and returns its exit code: 0 on success or a clean
// stop, 1 when a cleanup or the worker failed, 2 on invalid flags or
// configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr, time.Now())
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "reaper: %v\n", err)
		return 2
	}

	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "reaper: invalid configuration:\n%v\n", err)
		return 2
	}
	rcfg := reaper.FromConfig(cfg)
	if err := rcfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "reaper: invalid configuration:\n%v\n", err)
		return 2
	}
	log, err := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(stderr, "reaper: %v\n", err)
		return 2
	}
	log = log.With("component", "reaper")

	pol, err := policy.NewWatcher(cfg.PolicyFile, log)
	if err != nil {
		log.Error("load retention policy failed; fix the file or STEWARD_POLICY_FILE", "path", cfg.PolicyFile, "err", err)
		return 2
	}

	if opts.once {
		return runOnce(ctx, cfg, rcfg, pol, opts, stdout, stderr, log)
	}

	go pol.Run(ctx, policyPollInterval)

	// The reaper process also handles erase requests that admins publish,
	// because both workers delete data and share the same credentials.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	erased := make(chan error, 1)
	go func() {
		erased <- erasure.Serve(ctx, cfg, erasure.WorkerConfig{}, log.With("component", "erasure"))
	}()
	code := 0
	if err := reaper.Serve(ctx, cfg, rcfg, pol, log); err != nil && ctx.Err() == nil {
		log.Error("reaper failed", "err", err)
		code = 1
	}
	cancel()
	if err := <-erased; err != nil && code == 0 && !errors.Is(err, context.Canceled) {
		log.Error("erasure worker failed", "err", err)
		code = 1
	}
	return code
}

// runOnce runs one cleanup and prints its table.
func runOnce(ctx context.Context, cfg *config.Config, rcfg reaper.Config, pol *policy.Watcher, opts options, stdout, stderr io.Writer, log *slog.Logger) int {
	st, err := store.Connect(ctx, cfg.Mongo, log)
	if err != nil {
		fmt.Fprintf(stderr, "reaper: %v; check STEWARD_MONGODB_URI and that the server runs\n", err)
		return 1
	}
	defer st.Close(context.Background())

	r, err := reaper.New(nil, st, rcfg, pol, log)
	if err != nil {
		fmt.Fprintf(stderr, "reaper: %v\n", err)
		return 2
	}
	rep, err := r.RunOnce(ctx, opts.asOf, opts.dryRun)
	if errors.Is(err, reaper.ErrFutureAsOf) {
		fmt.Fprintf(stderr, "reaper: %v\n", err)
		return 2
	}
	if !rep.StartedAt.IsZero() {
		if werr := printReport(stdout, rep); werr != nil {
			fmt.Fprintf(stderr, "reaper: print report: %v\n", werr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "reaper: cleanup failed: %v\n", err)
		return 1
	}
	return 0
}
