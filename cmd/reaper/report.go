package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/stewardhq/steward/internal/reaper"
)

// printReport writes the outcome of a -once run as a table with one row
// per collection and a total.
func printReport(w io.Writer, rep reaper.Report) error {
	mode := "Cleanup"
	countHeader := "DELETED"
	if rep.DryRun {
		mode = "Dry run"
		countHeader = "WOULD DELETE"
	}
	fmt.Fprintf(w, "%s as of %s, policy %s from %s\n", mode, rep.AsOf.UTC().Format(time.RFC3339), rep.PolicyVersion, rep.PolicySource)
	if !rep.Enabled {
		if rep.DryRun {
			fmt.Fprintln(w, "Cleanup is disabled by the policy; this dry run counts what an enabled policy would delete.")
		} else {
			fmt.Fprintln(w, "Cleanup is disabled by the policy; nothing was deleted.")
		}
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "COLLECTION\tRETENTION DAYS\tCUTOFF\t" + countHeader
	if rep.Errors > 0 {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, c := range rep.Collections {
		row := fmt.Sprintf("%s\t%s\t%s\t%d", c.Collection,
			strconv.FormatFloat(c.RetentionDays(), 'f', -1, 64), c.Cutoff.UTC().Format(time.RFC3339Nano), c.Deleted)
		if rep.Errors > 0 {
			errText := ""
			if c.Err != nil {
				errText = c.Err.Error()
			}
			row += "\t" + errText
		}
		fmt.Fprintln(tw, row)
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t%d\n", rep.Total)
	return tw.Flush()
}
