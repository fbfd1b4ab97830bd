package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stewardhq/steward/internal/devstack"
	"github.com/stewardhq/steward/internal/erasure"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/logging"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
)

func runDev(ctx context.Context, env *cliEnv, args []string) int {
	fs := flag.NewFlagSet("steward dev", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dir := fs.String("dir", "steward-data", "directory for the NATS and store data, kept across restarts")
	host := fs.String("host", "127.0.0.1", "address the servers listen on")
	natsPort := fs.Int("nats-port", 4222, "NATS client port")
	mongoPort := fs.Int("mongo-port", 27017, "MongoDB wire protocol port of the embedded FerretDB")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if *natsPort < 1 || *natsPort > 65535 || *mongoPort < 1 || *mongoPort > 65535 || *natsPort == *mongoPort {
		fmt.Fprintf(env.stderr, "steward dev: ports must be two different numbers from 1 to 65535, got -nats-port %d and -mongo-port %d\n", *natsPort, *mongoPort)
		return 2
	}
	log := env.log.With("component", "dev")
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dev: data directory %q: %v\n", *dir, err)
		return 2
	}

	lock, err := devstack.LockDir(absDir)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dev: %v\n", err)
		return 1
	}
	defer lock.Close()

	ns, err := devstack.StartNATS(devstack.NATSConfig{Host: *host, Port: *natsPort, StoreDir: filepath.Join(absDir, "nats"), Logger: env.log.With("component", "nats")})
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dev: %v (flag -nats-port)\n", err)
		return 1
	}
	defer ns.Stop()
	ms, err := devstack.StartMongo(devstack.MongoConfig{Host: *host, Port: *mongoPort, Dir: filepath.Join(absDir, "ferretdb"), Logger: quietLogger(env)})
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dev: %v (flag -mongo-port)\n", err)
		return 1
	}
	defer ms.Stop()

	cfg := *env.cfg
	cfg.NATS.URL = ns.URL()
	cfg.Mongo.URI = ms.URI()
	pol, err := policy.NewWatcher(cfg.PolicyFile, log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dev: load retention policy: %v\n", err)
		return 2
	}
	go pol.Run(ctx, 10*time.Second)

	workers := map[string]func(context.Context) error{
		"ingest": func(ctx context.Context) error {
			return ingest.Serve(ctx, &cfg, pol, env.log.With("component", "ingest"))
		},
		"reaper": func(ctx context.Context) error {
			return reaper.Serve(ctx, &cfg, reaper.FromConfig(&cfg), pol, env.log.With("component", "reaper"))
		},
		"erasure": func(ctx context.Context) error {
			return erasure.Serve(ctx, &cfg, erasure.WorkerConfig{}, env.log.With("component", "erasure"))
		},
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	failed := make(chan error, len(workers))
	for name, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w(wctx); err != nil && wctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	fmt.Fprintf(env.stdout, `Steward dev stack is running. Data is kept in %s.
  NATS:     %s
  MongoDB:  %s  (database %q)

Try, in another terminal:
  go run ./cmd/steward publish --user alice --session s1 --type winston_logs path/to/app.log
  go run ./cmd/steward stats

Press Ctrl-C to stop.
`, absDir, ns.URL(), ms.URI(), cfg.Mongo.Database)

	code := 0
	select {
	case <-ctx.Done():
		log.Info("stopping dev stack")
	case err := <-failed:
		log.Error("worker failed; stopping dev stack", "err", err)
		code = 1
	}
	cancel()
	wg.Wait()
	return code
}

// quietLogger passes FerretDB's errors on, and the rest only at debug
// level, because it logs every connection and warns about commands the
// driver sends that it does not implement (endSessions).
func quietLogger(env *cliEnv) *slog.Logger {
	level := "error"
	if env.cfg.Log.Level == "debug" {
		level = "debug"
	}
	l, err := logging.New(os.Stderr, env.cfg.Log.Format, level)
	if err != nil {
		return env.log
	}
	return l.With("component", "ferretdb")
}
