package reaper_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/testenv"
)

func TestRunDeletesByReceivedAt(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	now := baseTime

	// Each data type of the default policy gets one document per case. The
	// client time must not matter: only received_at counts.
	cases := []struct {
		name       string
		age        func(period time.Duration) time.Duration // of received_at at now
		clientTime time.Time                                // zero means equal to received_at
		wantKept   bool
	}{
		{"older than period", func(p time.Duration) time.Duration { return p + time.Hour }, time.Time{}, false},
		{"younger than period", func(p time.Duration) time.Duration { return p - time.Hour }, time.Time{}, true},
		{"client time far in future", func(p time.Duration) time.Duration { return p + time.Hour }, now.AddDate(5, 0, 0), false},
		{"client time far in past", func(time.Duration) time.Duration { return time.Hour }, now.AddDate(-5, 0, 0), true},
	}
	p := policy.Default()
	for _, dataType := range p.Types() {
		period := p.Retention[dataType]
		var docs []doc
		for _, c := range cases {
			id := strings.ReplaceAll(c.name, " ", "-")
			docs = append(docs, doc{id: id, user: "alice", receivedAt: now.Add(-c.age(period)), clientTime: c.clientTime})
		}
		insert(t, st, dataType, docs...)
	}

	log, rec := newLogger(t)
	r := newReaper(t, st, reaper.Config{Now: newClock(now).Now}, fixedPolicy{p}, log)
	rep, err := r.RunOnce(context.Background(), time.Time{}, false)
	if err != nil {
		t.Fatalf("RunOnce: got %v, want no error", err)
	}

	for _, dataType := range p.Types() {
		kept := ids(t, db, dataType)
		for _, c := range cases {
			t.Run(dataType+"/"+c.name, func(t *testing.T) {
				if got := slices.Contains(kept, "alice:"+strings.ReplaceAll(c.name, " ", "-")); got != c.wantKept {
					t.Errorf("document kept: got %v, want %v", got, c.wantKept)
				}
			})
		}
		if got, want := reportCounts(rep)[dataType], int64(2); got != want {
			t.Errorf("%s: reported deleted: got %d, want %d", dataType, got, want)
		}
	}
	if got, want := rep.Total, int64(8); got != want {
		t.Errorf("Total: got %d, want %d", got, want)
	}
	if got := rec.count(t, "Running manual session cleanup..."); got != 1 {
		t.Errorf(`"Running manual session cleanup..." records: got %d, want 1`, got)
	}
}

func TestRunBatches(t *testing.T) {
	tests := []struct {
		name        string
		policyBatch int // deleteBatchSize in the policy file; 0 leaves it out
		configBatch int
	}{
		{"policy batch size", 10, 5000},
		{"config batch size", 0, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testenv.StartMongo(t)
			st := m.Store(t)
			db := m.Database(t)

			text := `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}}}`
			if tt.policyBatch > 0 {
				text = `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}, "deleteBatchSize": 10}}`
			}
			p := parsePolicy(t, text)

			var ages []time.Duration
			for i := range 95 {
				// Distinct receive times, so every slice holds exactly 10.
				ages = append(ages, 2*day+time.Duration(i)*time.Second)
			}
			for range 5 {
				ages = append(ages, time.Hour)
			}
			insert(t, st, "winston_logs", aged("alice", baseTime, ages...)...)

			log, rec := newLogger(t)
			r := newReaper(t, st, reaper.Config{Now: newClock(baseTime).Now, DeleteBatchSize: tt.configBatch}, fixedPolicy{p}, log)
			rep, err := r.RunOnce(context.Background(), time.Time{}, false)
			if err != nil {
				t.Fatalf("RunOnce: got %v, want no error", err)
			}
			c := rep.Collections[0]
			if c.Collection != "winston_logs" || c.Deleted != 95 || c.Batches != 10 {
				t.Fatalf("first run: got %s deleted %d in %d batches, want winston_logs deleted 95 in 10 batches", c.Collection, c.Deleted, c.Batches)
			}
			if got := count(t, db, "winston_logs", nil); got != 5 {
				t.Errorf("documents left: got %d, want 5", got)
			}
			if got := rec.count(t, "cleanup in progress"); got != 1 {
				t.Errorf(`"cleanup in progress" records after 10 batches: got %d, want 1`, got)
			}

			docs := audits(t, db)
			if len(docs) != 1 {
				t.Fatalf("audit documents: got %d, want 1", len(docs))
			}
			a := docs[0]
			if got := a.collectionCounts()["winston_logs"]; got != 95 {
				t.Errorf("audit winston_logs deleted: got %d, want 95", got)
			}
			if got := a.Collections[0].Batches; got != 10 {
				t.Errorf("audit winston_logs batches: got %d, want 10", got)
			}
			if a.Total != 95 {
				t.Errorf("audit total: got %d, want 95", a.Total)
			}

			again, err := r.RunOnce(context.Background(), time.Time{}, false)
			if err != nil {
				t.Fatalf("second RunOnce: got %v, want no error", err)
			}
			if again.Total != 0 {
				t.Errorf("second run: got %d deleted, want 0", again.Total)
			}
			if got := len(audits(t, db)); got != 2 {
				t.Errorf("audit documents after two runs: got %d, want 2", got)
			}
		})
	}
}

func TestRunDryRun(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	p := parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 10, "generated_scripts": 20}}}`)
	insert(t, st, "winston_logs", aged("alice", baseTime, 11*day, 12*day, 9*day)...)
	insert(t, st, "generated_scripts", aged("bob", baseTime, 21*day, 19*day)...)

	log, rec := newLogger(t)
	r := newReaper(t, st, reaper.Config{Now: newClock(baseTime).Now}, fixedPolicy{p}, log)
	rep, err := r.RunOnce(context.Background(), time.Time{}, true)
	if err != nil {
		t.Fatalf("RunOnce dry run: got %v, want no error", err)
	}

	want := map[string]int64{"generated_scripts": 1, "winston_logs": 2, "sessions": 0}
	for name, n := range want {
		if got := reportCounts(rep)[name]; got != n {
			t.Errorf("%s would delete: got %d, want %d", name, got, n)
		}
	}
	if got := count(t, db, "winston_logs", nil) + count(t, db, "generated_scripts", nil); got != 5 {
		t.Errorf("documents after dry run: got %d, want all 5", got)
	}

	docs := audits(t, db)
	if len(docs) != 1 {
		t.Fatalf("audit documents: got %d, want 1", len(docs))
	}
	if !docs[0].DryRun {
		t.Errorf("audit dry_run: got false, want true")
	}
	for _, c := range docs[0].Collections {
		if c.Deleted != nil {
			t.Errorf("audit %s: got deleted %d on a dry run, want only would_delete", c.Collection, *c.Deleted)
		}
	}
	if got := docs[0].collectionCounts(); got["winston_logs"] != 2 || got["generated_scripts"] != 1 {
		t.Errorf("audit would_delete: got %v, want winston_logs 2 and generated_scripts 1", got)
	}
	if got := rec.count(t, "Would clean up 2 old documents from winston_logs (older than 10 days)"); got != 1 {
		t.Errorf("dry run record of winston_logs: got %d, want 1", got)
	}
	if got := rec.count(t, "Session cleanup dry run completed: 3 total documents would be removed"); got != 1 {
		t.Errorf("dry run total record: got %d, want 1", got)
	}
}

func TestRunOnceAsOf(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	p := parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 10}}}`)
	insert(t, st, "winston_logs", aged("alice", baseTime, 5*day)...)
	r := newReaper(t, st, reaper.Config{Now: newClock(baseTime).Now}, fixedPolicy{p}, testenv.Logger(t))

	tests := []struct {
		name    string
		asOf    time.Time
		dryRun  bool
		wantErr error
		want    int64
	}{
		{"future dry run", baseTime.Add(6 * day), true, nil, 1},
		{"future real run", baseTime.Add(6 * day), false, reaper.ErrFutureAsOf, 0},
		{"past real run", baseTime.Add(-time.Hour), false, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(audits(t, db))
			rep, err := r.RunOnce(context.Background(), tt.asOf, tt.dryRun)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("RunOnce: got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if got := len(audits(t, db)); got != before {
					t.Errorf("audit documents after a rejected run: got %d, want %d", got, before)
				}
				return
			}
			if got := reportCounts(rep)["winston_logs"]; got != tt.want {
				t.Errorf("winston_logs: got %d, want %d", got, tt.want)
			}
			if !rep.AsOf.Equal(tt.asOf) {
				t.Errorf("AsOf: got %v, want %v", rep.AsOf, tt.asOf)
			}
		})
	}
	if got := count(t, db, "winston_logs", nil); got != 1 {
		t.Errorf("documents left: got %d, want 1", got)
	}
}

func TestRunDisabledPolicy(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	p := parsePolicy(t, `{"sessionCleanup": {"enabled": false, "retentionPeriods": {"winston_logs": 1}}}`)
	insert(t, st, "winston_logs", aged("alice", baseTime, 2*day)...)

	log, rec := newLogger(t)
	r := newReaper(t, st, reaper.Config{Now: newClock(baseTime).Now}, fixedPolicy{p}, log)
	rep, err := r.RunOnce(context.Background(), time.Time{}, false)
	if err != nil {
		t.Fatalf("RunOnce: got %v, want no error", err)
	}
	if rep.Total != 0 || len(rep.Collections) != 0 {
		t.Errorf("report: got total %d and %d collections, want 0 and 0", rep.Total, len(rep.Collections))
	}
	if got := count(t, db, "winston_logs", nil); got != 1 {
		t.Errorf("documents left: got %d, want 1", got)
	}
	if got := rec.count(t, "Session cleanup is disabled by the policy; nothing was deleted"); got != 1 {
		t.Errorf("disabled record: got %d, want 1", got)
	}
	docs := audits(t, db)
	if len(docs) != 1 || docs[0].Enabled {
		t.Fatalf("audit documents: got %+v, want one with enabled false", docs)
	}

	// A dry run still counts, so an operator can preview enabling cleanup.
	dry, err := r.RunOnce(context.Background(), time.Time{}, true)
	if err != nil {
		t.Fatalf("RunOnce dry run: got %v, want no error", err)
	}
	if got := reportCounts(dry)["winston_logs"]; got != 1 {
		t.Errorf("dry run with cleanup disabled: got %d, want 1", got)
	}
}

func TestRunCollectionFailureContinues(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	p := policy.Default()
	for _, dataType := range p.Types() {
		insert(t, st, dataType, aged("alice", baseTime, 100*day)...)
	}

	log, rec := newLogger(t)
	r := newReaper(t, st, reaper.Config{Now: newClock(baseTime).Now}, fixedPolicy{p}, log)
	injected := errors.New("injected failure")
	r.SetBeforeCollection(func(_ context.Context, collection string) error {
		if collection == "generated_scripts" {
			return injected
		}
		return nil
	})
	rep, err := r.RunOnce(context.Background(), time.Time{}, false)
	if !errors.Is(err, injected) {
		t.Fatalf("RunOnce: got %v, want the injected failure", err)
	}
	if rep.Errors != 1 || rep.Total != 3 {
		t.Errorf("report: got %d errors and %d deleted, want 1 and 3", rep.Errors, rep.Total)
	}
	for _, dataType := range p.Types() {
		want := int64(0)
		if dataType == "generated_scripts" {
			want = 1
		}
		if got := count(t, db, dataType, nil); got != want {
			t.Errorf("%s documents left: got %d, want %d", dataType, got, want)
		}
	}

	failed := rec.records(t, "cleanup of collection failed")
	if len(failed) != 1 || failed[0]["collection"] != "generated_scripts" || failed[0]["err"] == nil {
		t.Errorf("failure records: got %v, want one for generated_scripts with err", failed)
	}
	docs := audits(t, db)
	if len(docs) != 1 {
		t.Fatalf("audit documents: got %d, want 1", len(docs))
	}
	if docs[0].Errors != 1 {
		t.Errorf("audit errors: got %d, want 1", docs[0].Errors)
	}
	for _, c := range docs[0].Collections {
		hasErr := c.Error != nil && strings.Contains(*c.Error, "injected failure")
		if hasErr != (c.Collection == "generated_scripts") {
			t.Errorf("audit %s error: got %v, want an error only for generated_scripts", c.Collection, c.Error)
		}
	}
}

func TestRunSessions(t *testing.T) {
	m := testenv.StartMongo(t)
	st := m.Store(t)
	db := m.Database(t)
	p := parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 30, "generated_scripts": 10}}}`)
	old := baseTime.Add(-40 * day) // before the sessions cutoff of 30 days
	recent := baseTime.Add(-20 * day)

	sessions := []struct {
		user, session string
		lastReceived  time.Time
		wantKept      bool
	}{
		{"alice", "empty-old", old, false},
		{"alice", "empty-recent", recent, true},
		{"alice", "data-fresh", old, true},     // a winston_logs document of 5 days
		{"alice", "data-expiring", old, false}, // only an expired generated_scripts document
		{"alice", "data-legacy", old, true},    // data in a collection no longer in the policy
		{"alice", "shared", old, false},        // bob's session of the same id has data
		{"bob", "shared", old, true},
	}
	var batch []any
	for _, s := range sessions {
		batch = append(batch, bson.D{
			{Key: "_id", Value: s.user + ":" + s.session},
			{Key: "user_id", Value: s.user},
			{Key: "session_id", Value: s.session},
			{Key: store.FieldFirstReceived, Value: s.lastReceived.Add(-time.Hour)},
			{Key: store.FieldLastReceived, Value: s.lastReceived},
		})
	}
	if _, err := db.Collection(store.SessionsCollection).InsertMany(context.Background(), batch); err != nil {
		t.Fatalf("insert sessions: %v", err)
	}
	insert(t, st, "winston_logs",
		doc{id: "w1", user: "alice", session: "data-fresh", receivedAt: baseTime.Add(-5 * day)},
		doc{id: "w2", user: "bob", session: "shared", receivedAt: baseTime.Add(-5 * day)})
	insert(t, st, "generated_scripts", doc{id: "g1", user: "alice", session: "data-expiring", receivedAt: baseTime.Add(-11 * day)})
	insert(t, st, "legacy_logs", doc{id: "l1", user: "alice", session: "data-legacy", receivedAt: baseTime.Add(-400 * day)})

	// A small batch size makes the sessions span several pages.
	r := newReaper(t, st, reaper.Config{Now: newClock(baseTime).Now, DeleteBatchSize: 2}, fixedPolicy{p}, testenv.Logger(t))

	dry, err := r.RunOnce(context.Background(), time.Time{}, true)
	if err != nil {
		t.Fatalf("RunOnce dry run: got %v, want no error", err)
	}
	if got := reportCounts(dry)[store.SessionsCollection]; got != 3 {
		t.Errorf("dry run sessions would delete: got %d, want 3", got)
	}
	if got := count(t, db, store.SessionsCollection, nil); got != int64(len(sessions)) {
		t.Fatalf("sessions after dry run: got %d, want %d", got, len(sessions))
	}

	rep, err := r.RunOnce(context.Background(), time.Time{}, false)
	if err != nil {
		t.Fatalf("RunOnce: got %v, want no error", err)
	}
	if got := reportCounts(rep)[store.SessionsCollection]; got != 3 {
		t.Errorf("sessions deleted: got %d, want 3", got)
	}
	kept := ids(t, db, store.SessionsCollection)
	for _, s := range sessions {
		id := s.user + ":" + s.session
		t.Run(id, func(t *testing.T) {
			if got := slices.Contains(kept, id); got != s.wantKept {
				t.Errorf("session kept: got %v, want %v", got, s.wantKept)
			}
		})
	}
}
