package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/stewardhq/steward/internal/erasure"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
)

func runErase(ctx context.Context, env *cliEnv, args []string) int {
	fs := flag.NewFlagSet("steward erase", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprint(env.stderr, `Usage: steward erase --user U [--requested-by NAME] [--wait DURATION] [--json]

Erases user U: every document of U in the data collections and in sessions,
U's events in the events stream and U's dead letters. An audit document of
kind "erasure" records the counts, who asked and the SHA-256 of the user id,
but not the id. Events of U that ingest holds during the erasure are not
stored again: the erasure waits for ingest to acknowledge them and deletes a
second time. Events that U publishes afterwards are stored as usual.
Erasing again is safe.

An administrator can also publish {"user_id":"U","requested_by":"NAME"} on
steward.admin.erase, which the erasure worker handles.

Flags:
`)
		fs.PrintDefaults()
	}
	userFlag := fs.String("user", "", "user id to erase (required)")
	requestedBy := fs.String("requested-by", defaultRequester(), "who asked for the erasure, recorded in the audit document")
	cfg := erasure.ConfigFrom(env.cfg)
	fs.DurationVar(&cfg.SettleTimeout, "wait", cfg.SettleTimeout, "how long to wait for ingest to acknowledge the events it holds, twice STEWARD_ACK_WAIT unless set")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	u, err := scope.ParseUser(*userFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward erase: --user: %v\n", err)
		return 2
	}
	if *requestedBy == "" {
		fmt.Fprintln(env.stderr, "steward erase: --requested-by is empty; name who asked for the erasure")
		return 2
	}
	if cfg.SettleTimeout <= 0 {
		fmt.Fprintf(env.stderr, "steward erase: --wait %s is invalid: want a positive duration such as 1m\n", cfg.SettleTimeout)
		return 2
	}

	st, err := store.Connect(ctx, env.cfg.Mongo, env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward erase: %v\n", err)
		return 1
	}
	defer st.Close(context.Background())
	nc, js, err := natsconn.Connect(env.cfg.NATS, "steward-erase", env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward erase: %v\n", err)
		return 1
	}
	defer nc.Close()

	rep, err := erasure.New(js, st, cfg, env.log).Erase(ctx, erasure.Request{User: u, RequestedBy: *requestedBy})
	if err != nil && !errors.Is(err, erasure.ErrNotSettled) {
		fmt.Fprintf(env.stderr, "steward erase: %v\nThe erasure is incomplete; run it again.\n", err)
		return 1
	}
	printErasure(env.stdout, rep, *asJSON)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward erase: %v\n", err)
		return 1
	}
	return 0
}

// defaultRequester returns "<login>@<host>" of the person running the
// command.
func defaultRequester() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return name
	}
	return name + "@" + host
}

func printErasure(w io.Writer, rep *erasure.Report, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	fmt.Fprintf(w, "erased user sha256 %s (requested by %s)\n", rep.UserHash, rep.RequestedBy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COLLECTION\tDELETED\t")
	for _, c := range rep.Collections {
		fmt.Fprintf(tw, "%s\t%d\t\n", c.Collection, c.Deleted)
	}
	fmt.Fprintf(tw, "total\t%d\t\n", rep.Deleted)
	_ = tw.Flush()
	fmt.Fprintf(w, "events purged: %d (up to sequence %d), dead letters purged: %d\n", rep.EventsPurged, rep.UpToSeq, rep.DeadLettersPurged)
	fmt.Fprintf(w, "in-flight events settled: %v, took %s\n", rep.Settled, rep.EndedAt.Sub(rep.StartedAt).Round(time.Millisecond))
}
