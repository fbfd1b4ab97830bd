package reaper_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
	"github.com/stewardhq/steward/internal/testenv"
)

// TestDefaultPolicyAcceptance stores data of several users in all four
// default data types, previews cleanups at the points where each period
// has passed, and then runs one for real.
func TestDefaultPolicyAcceptance(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	p := policy.Default()

	users := []string{"alice", "bob", "carol"}
	const perUser = 4
	for _, dataType := range p.Types() {
		for _, user := range users {
			var docs []doc
			for i := range perUser {
				docs = append(docs, doc{
					id:         fmt.Sprintf("%s-%d", dataType, i),
					user:       user,
					session:    "s-" + user,
					receivedAt: baseTime.Add(-time.Duration(i+1) * time.Hour),
				})
			}
			insert(t, st, dataType, docs...)
		}
	}
	const perType = int64(3 * perUser)

	clk := newClock(baseTime)
	log, rec := newLogger(t)
	r := newReaper(t, st, reaper.Config{Now: clk.Now}, fixedPolicy{p}, log)

	previews := []struct {
		name    string
		after   time.Duration
		expired []string
	}{
		{"31 days", 31 * day, []string{"testcase_generator"}},
		{"46 days", 46 * day, []string{"testcase_generator", "generated_scripts"}},
		{"61 days", 61 * day, []string{"testcase_generator", "generated_scripts", "codegen_recordings"}},
		{"91 days", 91 * day, []string{"testcase_generator", "generated_scripts", "codegen_recordings", "winston_logs"}},
	}
	for _, tt := range previews {
		t.Run("dry run after "+tt.name, func(t *testing.T) {
			rep, err := r.RunOnce(context.Background(), baseTime.Add(tt.after), true)
			if err != nil {
				t.Fatalf("RunOnce: got %v, want no error", err)
			}
			got := reportCounts(rep)
			for _, dataType := range p.Types() {
				want := int64(0)
				if slices.Contains(tt.expired, dataType) {
					want = perType
				}
				if got[dataType] != want {
					t.Errorf("%s would delete: got %d, want %d", dataType, got[dataType], want)
				}
			}
			if want := perType * int64(len(tt.expired)); rep.Total != want {
				t.Errorf("Total: got %d, want %d", rep.Total, want)
			}
		})
	}
	for _, dataType := range p.Types() {
		if got := count(t, db, dataType, nil); got != perType {
			t.Fatalf("%s after dry runs: got %d documents, want %d", dataType, got, perType)
		}
	}

	// The clock moves 61 days on: three of the four periods have passed.
	clk.Set(baseTime.Add(61 * day))
	rep, err := r.RunOnce(context.Background(), time.Time{}, false)
	if err != nil {
		t.Fatalf("RunOnce: got %v, want no error", err)
	}
	wantDeleted := map[string]int64{
		"testcase_generator": perType,
		"generated_scripts":  perType,
		"codegen_recordings": perType,
		"winston_logs":       0,
		"sessions":           0, // winston_logs data keeps every session
	}
	for dataType, want := range wantDeleted {
		if got := reportCounts(rep)[dataType]; got != want {
			t.Errorf("%s deleted: got %d, want %d", dataType, got, want)
		}
		left := perType - want
		if dataType == "sessions" {
			continue
		}
		if got := count(t, db, dataType, nil); got != left {
			t.Errorf("%s documents left: got %d, want %d", dataType, got, left)
		}
	}

	// One log record per collection in the desktop app's wording, with
	// the numbers as attributes too.
	for _, dataType := range p.Types() {
		days := int(p.Retention[dataType] / day)
		msg := fmt.Sprintf("Cleaned up %d old documents from %s (older than %d days)", wantDeleted[dataType], dataType, days)
		records := rec.records(t, msg)
		if len(records) != 1 {
			t.Errorf("records %q: got %d, want 1", msg, len(records))
			continue
		}
		r := records[0]
		if r["collection"] != dataType || r["deleted"] != float64(wantDeleted[dataType]) || r["retention_days"] != float64(days) || r["cutoff"] == nil {
			t.Errorf("record %q: got %v, want collection, deleted, retention_days and cutoff attributes", msg, r)
		}
	}
	total := rec.records(t, fmt.Sprintf("Session cleanup completed: %d total documents removed", 3*perType))
	if len(total) != 1 || total[0]["deleted"] != float64(3*perType) {
		t.Errorf("total records: got %v, want one with deleted %d", total, 3*perType)
	}

	docs := audits(t, db)
	if got, want := len(docs), len(previews)+1; got != want {
		t.Fatalf("audit documents: got %d, want %d", got, want)
	}
	a := docs[len(docs)-1]
	if a.DryRun || a.TickID != reaper.ManualTick || a.PolicyVersion != p.Version || a.PolicySource != policy.DefaultSource || !a.Enabled {
		t.Errorf("audit: got dry_run %v tick_id %q policy %s from %s enabled %v, want false %q %s from %s true",
			a.DryRun, a.TickID, a.PolicyVersion, a.PolicySource, a.Enabled, reaper.ManualTick, p.Version, policy.DefaultSource)
	}
	if !a.AsOf.Equal(baseTime.Add(61 * day)) {
		t.Errorf("audit as_of: got %v, want %v", a.AsOf, baseTime.Add(61*day))
	}
	for dataType, want := range wantDeleted {
		if got := a.collectionCounts()[dataType]; got != want {
			t.Errorf("audit %s deleted: got %d, want %d", dataType, got, want)
		}
	}
	for _, c := range a.Collections {
		retention, ok := p.Retention[c.Collection]
		if !ok {
			retention = p.Longest()
		}
		wantCutoff := baseTime.Add(61 * day).Add(-retention)
		if !c.Cutoff.Equal(wantCutoff) || c.RetentionDays != retention.Hours()/24 {
			t.Errorf("audit %s: got cutoff %v and %v days, want %v and %v", c.Collection, c.Cutoff, c.RetentionDays, wantCutoff, retention.Hours()/24)
		}
	}
	if a.Total != 3*perType || a.Errors != 0 {
		t.Errorf("audit total and errors: got %d and %d, want %d and 0", a.Total, a.Errors, 3*perType)
	}

	again, err := r.RunOnce(context.Background(), time.Time{}, false)
	if err != nil {
		t.Fatalf("second RunOnce: got %v, want no error", err)
	}
	if again.Total != 0 {
		t.Errorf("second run: got %d deleted, want 0", again.Total)
	}
}
