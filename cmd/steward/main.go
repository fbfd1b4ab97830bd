// Command steward is Steward's command line for operators and developers:
// the embedded dev stack, publishing files as events, and stats.
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

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/logging"
)

const usage = `Usage: steward <command> [flags]

Commands:
  dev       run NATS, a MongoDB-compatible store and the workers in this process
  publish   publish files as events
  stats     print stored documents per data type and user
  replay    read events back from the stream, as JSON lines or into MongoDB
  erase     erase every trace of one user
  dlq       list dead-lettered events and send them through ingest again
  bench     measure ingest and reaper against the raw NATS and store ceilings

Run "steward <command> -h" for the flags of a command. Connection settings
come from STEWARD_* environment variables; see the README.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand. It returns the process exit code.
type command func(ctx context.Context, env *cliEnv, args []string) int

// cliEnv is the configuration, logger and output shared by every command.
type cliEnv struct {
	cfg    *config.Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	commands := map[string]command{
		"dev":   runDev,
		"bench": runBench,
		// bench-ingest is started by bench and not listed in the usage.
		"bench-ingest": runBenchIngest,
		"publish":      runPublish,
		"stats":        runStats,
		"replay":       runReplay,
		"erase":        runErase,
		"dlq":          runDLQ,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "steward: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "steward: invalid configuration:\n%v\n", err)
		return 2
	}
	log, err := logging.New(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(stderr, "steward: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd(ctx, &cliEnv{cfg: cfg, log: log, stdout: stdout, stderr: stderr}, args[1:])
}

// parseExit returns the exit code for a flag parse error: 0 for -h, which
// asked for the usage, and 2 for invalid flags.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
