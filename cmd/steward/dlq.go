package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/deadletter"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/natsconn"
)

const dlqUsage = `Usage:
  steward dlq [--reason R] [--json]
      dead letters grouped by reason, with count and first and last time
  steward dlq list [--reason R] [--seq N,...] [--json]
      each dead letter: sequence, time, reason, original subject
  steward dlq redrive (--reason R | --seq N,...) [--dry-run] [--json]
      send dead letters through ingest again after a fix, such as a policy
      that now has their data type; each one is removed from the
      dead-letter stream once the events stream stored it again

Dead letters are events that ingest rejected. They keep the original bytes
and headers and stay in the dead-letter stream for STEWARD_DLQ_MAX_AGE.
A re-driven event that is still invalid is dead-lettered again.

Flags:
`

func runDLQ(ctx context.Context, env *cliEnv, args []string) int {
	sub := "summary"
	if len(args) > 0 && (args[0] == "list" || args[0] == "redrive") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("steward dlq", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprint(env.stderr, dlqUsage)
		fs.PrintDefaults()
	}
	reason := fs.String("reason", "", "only dead letters of this reason code, such as unknown_type")
	seqs := fs.String("seq", "", "only these dead-letter sequences, comma-separated (list and redrive)")
	dryRun := fs.Bool("dry-run", false, "list what redrive would send, and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "steward dlq: unexpected argument %q; the subcommands are list and redrive\n", fs.Arg(0))
		return 2
	}
	sel := deadletter.Selection{Reason: events.Reason(*reason)}
	var err error
	if sel.Seqs, err = parseSeqs(*seqs); err != nil {
		fmt.Fprintf(env.stderr, "steward dlq: --seq: %v\n", err)
		return 2
	}
	if sub == "redrive" && sel.Reason == "" && len(sel.Seqs) == 0 {
		fmt.Fprintln(env.stderr, "steward dlq redrive: choose dead letters with --reason or --seq; see steward dlq list")
		return 2
	}

	nc, js, err := natsconn.Connect(env.cfg.NATS, "steward-dlq", env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dlq: %v\n", err)
		return 1
	}
	defer nc.Close()
	stream := env.cfg.Stream.DeadLetterStream

	switch sub {
	case "list":
		return dlqList(ctx, env, js, stream, sel, *asJSON)
	case "redrive":
		return dlqRedrive(ctx, env, js, stream, sel, *dryRun, *asJSON)
	}
	groups, err := deadletter.Summarize(ctx, js, stream, sel)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dlq: %v\n", err)
		return 1
	}
	if *asJSON {
		writeJSON(env, struct {
			Groups []deadletter.Group `json:"groups"`
		}{groups})
		return 0
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tCOUNT\tFIRST\tLAST\t")
	total := 0
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", g.Reason, g.Count, g.First.Format(time.RFC3339), g.Last.Format(time.RFC3339))
		total += g.Count
	}
	fmt.Fprintf(tw, "total\t%d\t\t\t\n", total)
	_ = tw.Flush()
	return 0
}

func dlqList(ctx context.Context, env *cliEnv, js jetstream.JetStream, stream string, sel deadletter.Selection, asJSON bool) int {
	var letters []deadletter.Letter
	err := deadletter.Scan(ctx, js, stream, sel, func(l deadletter.Letter) error {
		letters = append(letters, l)
		return nil
	})
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dlq list: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(env, struct {
			Letters []deadletter.Letter `json:"letters"`
		}{letters})
		return 0
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tREASON\tSUBJECT\tMESSAGE\t")
	for _, l := range letters {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", l.Seq, l.Time.Format(time.RFC3339), l.Reason, l.OriginalSubject, l.Message)
	}
	_ = tw.Flush()
	return 0
}

func dlqRedrive(ctx context.Context, env *cliEnv, js jetstream.JetStream, stream string, sel deadletter.Selection, dryRun, asJSON bool) int {
	rep, err := deadletter.Redrive(ctx, js, stream, sel, dryRun, env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward dlq redrive: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(env, rep)
	} else {
		tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tREASON\tSUBJECT\tNEW SEQ\tERROR\t")
		for _, l := range rep.Letters {
			newSeq := "-"
			if l.EventsSeq > 0 {
				newSeq = strconv.FormatUint(l.EventsSeq, 10)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", l.Seq, l.Reason, l.OriginalSubject, newSeq, l.Error)
		}
		_ = tw.Flush()
		if dryRun {
			fmt.Fprintf(env.stdout, "dry run: %d dead letters would be re-driven\n", len(rep.Letters))
		} else {
			fmt.Fprintf(env.stdout, "re-driven: %d, failed: %d\n", rep.Redriven, rep.Failed)
		}
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

// parseSeqs parses a comma-separated list of sequences. An empty string
// yields none.
func parseSeqs(s string) ([]uint64, error) {
	if s == "" {
		return nil, nil
	}
	var out []uint64
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(part), 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a sequence number; write them like 12,15,40", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func writeJSON(env *cliEnv, v any) {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
