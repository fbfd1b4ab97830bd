package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/publish"
	"github.com/stewardhq/steward/internal/scope"
)

func runPublish(ctx context.Context, env *cliEnv, args []string) int {
	fs := flag.NewFlagSet("steward publish", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprint(env.stderr, `Usage: steward publish --user U [--session S] --type T [--timeout D] [--json] FILE|DIR|- ...

Publishes files as events of data type T for user U. A JSON-lines file (such
as winston's JSON log) becomes one event per line; any other file one event
holding its content; a directory is read recursively; "-" reads standard
input. Event ids are derived from the file name, line and content, so
publishing the same input again adds nothing. Events the stream has not
acknowledged within the timeout after the last input are reported as
unacknowledged, and the exit code is 1.

Flags:
`)
		fs.PrintDefaults()
	}
	user := fs.String("user", "", "user id that owns the events (required)")
	session := fs.String("session", "cli", "session id of the events")
	dataType := fs.String("type", "", "data type, one of the retention policy's types (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the stream's acknowledgements after the last input")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	u, err := scope.ParseUser(*user)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward publish: --user: %v\n", err)
		return 2
	}
	s, err := scope.ParseSession(*session)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward publish: --session: %v\n", err)
		return 2
	}
	pol, _, err := policy.Load(env.cfg.PolicyFile)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward publish: %v\n", err)
		return 2
	}
	if !pol.Allows(*dataType) {
		fmt.Fprintf(env.stderr, "steward publish: --type %q has no retention period in the policy (%s); use one of: %s\n", *dataType, pol.Source, strings.Join(pol.Types(), ", "))
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(env.stderr, "steward publish: no input; name files, directories or - for standard input")
		return 2
	}
	files, err := publish.Expand(fs.Args())
	if err != nil {
		fmt.Fprintf(env.stderr, "steward publish: %v\n", err)
		return 2
	}

	if *timeout <= 0 {
		fmt.Fprintf(env.stderr, "steward publish: --timeout %v: set a positive duration such as 30s\n", *timeout)
		return 2
	}

	p, err := publish.NewPublisher(env.cfg.NATS, publish.Target{User: u, Session: s, Type: *dataType, MaxBytes: env.cfg.Ingest.MaxPayload, Timeout: *timeout}, env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward publish: %v\n", err)
		return 1
	}
	for _, f := range files {
		err := publish.Read(f, *dataType+"\x00"+*session, env.cfg.Ingest.MaxPayload, func(it publish.Item) error { return p.Add(ctx, it) })
		if err != nil {
			fmt.Fprintf(env.stderr, "steward publish: %v\n", err)
			p.Abandon()
			return 1
		}
	}
	sum, err := p.Flush(ctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward publish: %v\n", err)
	}
	printSummary(env, sum, *asJSON)
	if !sum.OK() || err != nil {
		return 1
	}
	return 0
}

func printSummary(env *cliEnv, sum publish.Summary, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
		return
	}
	fmt.Fprintf(env.stdout, "sent: %d, duplicates: %d, rejected: %d, unacknowledged: %d\n",
		sum.Sent, sum.Duplicates, len(sum.Rejected), len(sum.Unacknowledged))
	const show = 20
	for i, f := range append(sum.Rejected, sum.Unacknowledged...) {
		if i == show {
			fmt.Fprintf(env.stdout, "  ... and %d more\n", len(sum.Rejected)+len(sum.Unacknowledged)-show)
			break
		}
		fmt.Fprintf(env.stdout, "  %s: %s\n", f.Origin, f.Reason)
	}
}
