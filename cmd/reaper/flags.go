package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// parseFlags parses the command line. now is the time a future -as-of is
// compared with.
func parseFlags(args []string, stderr io.Writer, now time.Time) (options, error) {
	fs := flag.NewFlagSet("reaper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: reaper [-once [-dry-run] [-as-of TIME]]\n\n"+
			"Without flags, run the cleanup worker until SIGINT or SIGTERM.\n\n")
		fs.PrintDefaults()
	}

	var opts options
	var asOf string
	fs.BoolVar(&opts.once, "once", false, "run one cleanup now without NATS, print what it removed, and exit")
	fs.BoolVar(&opts.dryRun, "dry-run", false, "with -once: count the documents a cleanup would delete, and delete nothing")
	fs.StringVar(&asOf, "as-of", "", "with -once: compute cutoffs from this time instead of now, as RFC 3339 (2026-06-01T12:00:00Z) or a date (2026-06-01, midnight UTC); a future time needs -dry-run")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}

	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q; the reaper takes only flags, see -h", fs.Arg(0))
	}
	if !opts.once && (opts.dryRun || asOf != "") {
		return options{}, errors.New("-dry-run and -as-of apply only to -once; the worker always deletes as of now")
	}

	if asOf != "" {
		t, err := parseAsOf(asOf)
		if err != nil {
			return options{}, err
		}
		if t.After(now) && !opts.dryRun {
			return options{}, fmt.Errorf("-as-of %s is in the future, and a real cleanup would delete documents before their retention period ends; add -dry-run to preview it", asOf)
		}
		opts.asOf = t
	}
	return opts, nil
}

// parseAsOf accepts an RFC 3339 time or a date, which means midnight UTC.
func parseAsOf(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("-as-of %q is invalid: want an RFC 3339 time such as 2026-06-01T12:00:00Z or a date such as 2026-06-01", s)
}
