package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/replay"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/store"
)

func runReplay(ctx context.Context, env *cliEnv, args []string) int {
	fs := flag.NewFlagSet("steward replay", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprint(env.stderr, `Usage: steward replay [filters] [--restore] [--json]

Reads events back from the events stream in stream order, up to the last
event stored when the replay starts. By default each event becomes one JSON
line on standard output:

  {"seq":12,"time":"2026-12-04T19:32:51.65Z","subject":"steward.events.u1.s1.record.winston_logs","event":{...}}

where "event" is the envelope as the client sent it. With --restore the
events are written into MongoDB the way ingest writes them, so a restored
document equals the original and restoring twice changes nothing. The
summary (events, first and last sequence and time, and a digest that is
equal for two replays of the same events) goes to standard error, or to
standard output with --restore.

Filters combine; times are the stream's receive times.

Flags:
`)
		fs.PrintDefaults()
	}
	var f replay.Filter
	since := fs.String("since", "", "first receive time, RFC 3339 (2026-12-04T19:00:00Z), inclusive")
	until := fs.String("until", "", "last receive time, RFC 3339, inclusive")
	user := fs.String("user", "", "only this user's events")
	session := fs.String("session", "", "only this session's events; without --user, that session id of every user")
	fs.StringVar(&f.Type, "type", "", "only records of this data type")
	fs.Uint64Var(&f.FromSeq, "from-seq", 0, "first stream sequence, inclusive")
	fs.Uint64Var(&f.ToSeq, "to-seq", 0, "last stream sequence, inclusive (default: the last event stored when the replay starts)")
	restore := fs.Bool("restore", false, "write the events into MongoDB instead of printing them")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "steward replay: unexpected argument %q; filters are flags such as --user\n", fs.Arg(0))
		return 2
	}
	var err error
	if f.Since, err = parseTime("since", *since); err == nil {
		f.Until, err = parseTime("until", *until)
	}
	if err == nil && *user != "" {
		f.User, err = scope.ParseUser(*user)
	}
	if err == nil && *session != "" {
		f.Session, err = scope.ParseSession(*session)
	}
	if err == nil {
		err = f.Validate()
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "steward replay: %v\n", err)
		return 2
	}

	var sink replay.Sink = replay.NewJSONLines(env.stdout)
	var restorer *replay.Restorer
	summaryOut := env.stderr
	if *restore {
		pol, _, err := policy.Load(env.cfg.PolicyFile)
		if err != nil {
			fmt.Fprintf(env.stderr, "steward replay: %v\n", err)
			return 2
		}
		st, err := store.Connect(ctx, env.cfg.Mongo, env.log)
		if err != nil {
			fmt.Fprintf(env.stderr, "steward replay: %v\n", err)
			return 1
		}
		defer st.Close(context.Background())
		writer := ingest.NewWriter(st, env.cfg.Ingest.MaxPayload, func() ingest.Types { return pol })
		restorer = replay.NewRestorer(writer, replay.RestoreConfig{BatchSize: env.cfg.Ingest.BatchSize}, env.log)
		sink = restorer
		summaryOut = env.stdout
	}

	nc, js, err := natsconn.Connect(env.cfg.NATS, "steward-replay", env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward replay: %v\n", err)
		return 1
	}
	defer nc.Close()

	sum, err := replay.Run(ctx, js, env.cfg.Stream.EventsStream, f, sink, newProgress(env.stderr))
	if restorer != nil && sum != nil {
		sum.Restore = restorer.Counts()
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "steward replay: %v\n", err)
		if sum != nil && sum.Events > 0 {
			fmt.Fprintf(env.stderr, "steward replay: stopped after %d events, the last at sequence %d\n", sum.Events, sum.LastSeq)
		}
		return 1
	}
	printReplaySummary(summaryOut, sum, *asJSON)
	if sum.Restore != nil && sum.Restore.Failed > 0 {
		return 1
	}
	return 0
}

// parseTime parses an RFC 3339 flag value; empty means no bound.
func parseTime(name, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is not an RFC 3339 time such as 2026-12-04T19:00:00Z", name, value)
	}
	return t, nil
}

func printReplaySummary(w io.Writer, sum *replay.Summary, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
		return
	}
	fmt.Fprintf(w, "events: %d\n", sum.Events)
	if sum.Events > 0 {
		fmt.Fprintf(w, "first: sequence %d at %s\n", sum.FirstSeq, sum.FirstTime.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "last: sequence %d at %s\n", sum.LastSeq, sum.LastTime.Format(time.RFC3339Nano))
	}
	fmt.Fprintf(w, "digest: %s\n", sum.Digest)
	if r := sum.Restore; r != nil {
		fmt.Fprintf(w, "stored: %d, duplicates: %d, erased users: %d, failed: %d\n", r.Stored, r.Duplicates, r.Erased, r.Failed)
		reasons := make([]string, 0, len(r.Rejected))
		for reason := range r.Rejected {
			reasons = append(reasons, string(reason))
		}
		sort.Strings(reasons)
		for _, reason := range reasons {
			fmt.Fprintf(w, "rejected (%s): %d\n", reason, r.Rejected[events.Reason(reason)])
		}
	}
}

// barProgress shows a replay's position in its sequence range as a
// progress bar.
type barProgress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	first uint64
}

// newProgress returns a progress bar on w when w is a terminal, and nil
// otherwise, so that logs and pipes get no control characters.
func newProgress(w io.Writer) replay.Progress {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	return &barProgress{w: w}
}

func (p *barProgress) Start(first, last uint64) {
	p.first = first
	p.bar = progressbar.NewOptions64(int64(last-first+1),
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *barProgress) Advance(seq uint64) { _ = p.bar.Set64(int64(seq - p.first + 1)) }

func (p *barProgress) Finish() { _ = p.bar.Finish() }
