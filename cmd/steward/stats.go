package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/stats"
	"github.com/stewardhq/steward/internal/store"
)

func runStats(ctx context.Context, env *cliEnv, args []string) int {
	fs := flag.NewFlagSet("steward stats", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	user := fs.String("user", "", "count only this user's documents")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}

	var u scope.User
	if *user != "" {
		var err error
		if u, err = scope.ParseUser(*user); err != nil {
			fmt.Fprintf(env.stderr, "steward stats: --user: %v\n", err)
			return 2
		}
	}

	st, err := store.Connect(ctx, env.cfg.Mongo, env.log)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward stats: %v\n", err)
		return 1
	}
	defer st.Close(context.Background())
	rep, err := stats.Collect(ctx, st.Database(), u)
	if err != nil {
		fmt.Fprintf(env.stderr, "steward stats: %v\n", err)
		return 1
	}

	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COLLECTION\tUSER\tDOCUMENTS\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t\n", r.Collection, r.User, r.Documents)
	}
	fmt.Fprintf(tw, "total (data collections)\t\t%d\t\n", rep.Total)
	_ = tw.Flush()
	return 0
}
