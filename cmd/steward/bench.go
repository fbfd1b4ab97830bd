package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"text/tabwriter"
	"time"

	"github.com/stewardhq/steward/internal/bench"
	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/policy"
)

func runBench(ctx context.Context, env *cliEnv, args []string) int {
	fs := flag.NewFlagSet("steward bench", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	events := fs.Int("events", 20000, "events per ingest measurement")
	batch := fs.Int("batch", 500, "ingest batch size and insertMany batch size")
	reaperDocs := fs.Int("reaper-docs", 20000, "expired documents the reaper deletes")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (embedded servers, reaper and publishers; ingest runs in a child) to this file")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(env.stderr, "steward bench: -cpuprofile: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(env.stderr, "steward bench: -cpuprofile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(env.stderr, "steward bench: find own executable to run ingest: %v\n", err)
		return 1
	}
	opts := bench.Options{
		Events: *events, BatchSize: *batch, ReaperDocs: *reaperDocs,
		IngestCommand: func() *exec.Cmd { return exec.Command(self, "bench-ingest") },
		Progress:      env.stderr,
	}
	if config.IsSet("STEWARD_NATS_URL") && config.IsSet("STEWARD_MONGODB_URI") {
		opts.NATSURL, opts.MongoURI = env.cfg.NATS.URL, env.cfg.Mongo.URI
	}

	rep, err := bench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}

	fmt.Fprintf(env.stdout, "machine: %s\noptions: %s\n\n", rep.Machine, rep.Options)
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tCOUNT\tSECONDS\tPER SECOND\tP50 MS\tP99 MS\tPEAK RSS MIB")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\n", r.Name, r.Count, r.Seconds, r.PerSecond, opt(r.P50), opt(r.P99), opt(r.PeakRSSMiB))
	}
	_ = tw.Flush()
	fmt.Fprintf(env.stdout, "\ningest / min(raw ceilings):           %.2f\n", rep.IngestRatio)
	fmt.Fprintf(env.stdout, "reaper / raw deleteMany:               %.2f\n", rep.ReaperRatio)
	fmt.Fprintf(env.stdout, "ingest p99 with reaper / without:      %.2f\n", rep.P99Ratio)
	fmt.Fprintf(env.stdout, "ingest peak RSS, 100 / 10 batches:     %.2f\n", rep.MemoryRatio)
	return 0
}

func opt(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// runBenchIngest runs one ingest worker for `steward bench`, which starts
// it as a process of its own to measure its memory.
func runBenchIngest(ctx context.Context, env *cliEnv, _ []string) int {
	pol, err := policy.NewWatcher(env.cfg.PolicyFile, env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward bench-ingest: %v\n", err)
		return 2
	}
	go pol.Run(ctx, 10*time.Second)
	if err := ingest.Serve(ctx, env.cfg, pol, env.log.With("component", "ingest")); err != nil && ctx.Err() == nil {
		fmt.Fprintf(env.stderr, "steward bench-ingest: %v\n", err)
		return 1
	}
	return 0
}
