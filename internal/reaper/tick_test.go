package reaper_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/stewardhq/steward/internal/devstack"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/testenv"
)

const (
	ticksStream = "TICKS"
	consumer    = "reaper"
	waitLong    = 30 * time.Second
)

// natsEnv is one test's NATS server and MongoDB-compatible store.
type natsEnv struct {
	t     *testing.T
	nats  *devstack.NATS
	js    jetstream.JetStream
	mongo *testenv.Mongo
	st    *store.Store
	db    *mongo.Database
	clock *clock
}

func setupNATS(t *testing.T) *natsEnv {
	t.Helper()
	n := testenv.NATS(t)
	_, js := testenv.Connect(t, n.URL())
	m := testenv.StartMongo(t)
	return &natsEnv{t: t, nats: n, js: js, mongo: m, st: m.Store(t), db: m.Database(t), clock: newClock(baseTime)}
}

// config returns a reaper configuration with short waits for tests.
func (e *natsEnv) config(replica string) reaper.Config {
	return reaper.Config{
		TicksStream: ticksStream,
		Consumer:    consumer,
		AckWait:     time.Second,
		RetryDelay:  200 * time.Millisecond,
		FetchWait:   200 * time.Millisecond,
		ReplicaID:   replica,
		Now:         e.clock.Now,
	}
}

// startReaper runs r until the test ends and waits until it has started.
func (e *natsEnv) startReaper(r *reaper.Reaper, rec *recorder) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	e.t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("reaper Run: got %v, want nil", err)
			}
		})
	})
	testenv.Eventually(e.t, waitLong, func() bool {
		return rec.count(e.t, "reaper started") == 1
	}, "the reaper did not start")
}

// newNATSReaper returns a reaper on its own NATS connection.
func (e *natsEnv) newNATSReaper(cfg reaper.Config, st *store.Store, p reaper.PolicySource) (*reaper.Reaper, *recorder) {
	e.t.Helper()
	_, js := testenv.Connect(e.t, e.nats.URL())
	log, rec := newLogger(e.t)
	r, err := reaper.New(js, st, cfg, p, log)
	if err != nil {
		e.t.Fatalf("new reaper: %v", err)
	}
	return r, rec
}

// publishTick publishes a tick by hand, as the schedule does, and returns
// its stream sequence.
func (e *natsEnv) publishTick() uint64 {
	e.t.Helper()
	ack, err := e.js.Publish(context.Background(), reaper.TickSubject, nil)
	if err != nil {
		e.t.Fatalf("publish tick: %v", err)
	}
	return ack.Sequence
}

func (e *natsEnv) consumerInfo() *jetstream.ConsumerInfo {
	e.t.Helper()
	c, err := e.js.Consumer(context.Background(), ticksStream, consumer)
	if err != nil {
		e.t.Fatalf("consumer %s: %v", consumer, err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		e.t.Fatalf("consumer %s info: %v", consumer, err)
	}
	return info
}

// waitAcked waits until the consumer acknowledged every tick up to seq.
func (e *natsEnv) waitAcked(seq uint64) {
	e.t.Helper()
	testenv.Eventually(e.t, waitLong, func() bool {
		info := e.consumerInfo()
		return info.AckFloor.Stream >= seq && info.NumAckPending == 0
	}, "tick %d was never acknowledged", seq)
}

func (e *natsEnv) waitAudits(n int) []auditDoc {
	e.t.Helper()
	var docs []auditDoc
	testenv.Eventually(e.t, waitLong, func() bool {
		docs = audits(e.t, e.db)
		return len(docs) >= n
	}, "fewer than %d audit documents", n)
	return docs
}

// scheduleHeader returns a header of the last schedule message.
func (e *natsEnv) scheduleHeader(name string) string {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), ticksStream)
	if err != nil {
		e.t.Fatalf("stream %s: %v", ticksStream, err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), reaper.ScheduleSubject)
	if err != nil {
		e.t.Fatalf("last schedule message: %v", err)
	}
	return m.Header.Get(name)
}

func TestScheduleFiresTicks(t *testing.T) {
	e := setupNATS(t)
	p := parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}}}`)
	insert(t, e.st, "winston_logs", aged("alice", baseTime, 2*day, time.Hour)...)

	cfg := e.config("r1")
	reaper.SetScheduleSpec(&cfg, "@every 1s")
	r, rec := e.newNATSReaper(cfg, e.st, fixedPolicy{p})
	e.startReaper(r, rec)

	docs := e.waitAudits(1)
	a := docs[0]
	if a.TickID == reaper.ManualTick || a.TickID == "" {
		t.Errorf("audit tick_id: got %q, want a stream sequence", a.TickID)
	}
	if a.Replica != "r1" {
		t.Errorf("audit replica: got %q, want r1", a.Replica)
	}
	if got := a.collectionCounts()["winston_logs"]; got != 1 {
		t.Errorf("audit winston_logs deleted: got %d, want 1", got)
	}
	if got := count(t, e.db, "winston_logs", nil); got != 1 {
		t.Errorf("documents left: got %d, want 1", got)
	}
	if got := e.scheduleHeader(jetstream.ScheduleHeader); got != "@every 1s" {
		t.Errorf("Nats-Schedule: got %q, want %q", got, "@every 1s")
	}
	if got := e.scheduleHeader(jetstream.ScheduleTargetHeader); got != reaper.TickSubject {
		t.Errorf("Nats-Schedule-Target: got %q, want %q", got, reaper.TickSubject)
	}
	if got := rec.count(t, "Running scheduled session cleanup..."); got < 1 {
		t.Errorf(`"Running scheduled session cleanup..." records: got %d, want at least 1`, got)
	}

	// Later ticks keep coming and find nothing more to delete.
	docs = e.waitAudits(2)
	if got := docs[1].Total; got != 0 {
		t.Errorf("second scheduled run: got %d deleted, want 0", got)
	}
}

func TestScheduleStartupLog(t *testing.T) {
	tests := []struct {
		name     string
		policy   string
		wantMsg  string
		wantAttr string
		want     any
		wantZone string
	}{
		{"interval", `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}, "cleanupInterval": 24}}`,
			"Session cleanup scheduled every 24 hours", "interval", "24h0m0s", ""},
		{"fractional interval", `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}, "cleanupInterval": 0.5}}`,
			"Session cleanup scheduled every 0.5 hours", "interval_hours", 0.5, ""},
		{"cron with zone", `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}, "cleanupSchedule": "0 0 3 * * *", "timeZone": "Europe/Berlin"}}`,
			"Session cleanup scheduled by cron 0 0 3 * * * (Europe/Berlin)", "schedule", "0 0 3 * * *", "Europe/Berlin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupNATS(t)
			r, rec := e.newNATSReaper(e.config("r1"), e.st, fixedPolicy{parsePolicy(t, tt.policy)})
			e.startReaper(r, rec)

			records := rec.records(t, "Session cleanup scheduled")
			if len(records) != 1 {
				t.Fatalf("schedule records: got %d, want 1", len(records))
			}
			if got := records[0]["msg"]; got != tt.wantMsg {
				t.Errorf("msg: got %q, want %q", got, tt.wantMsg)
			}
			if got := records[0][tt.wantAttr]; got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.wantAttr, got, tt.want)
			}
			if got := e.scheduleHeader(jetstream.ScheduleTimeZoneHeader); got != tt.wantZone {
				t.Errorf("Nats-Schedule-Time-Zone: got %q, want %q", got, tt.wantZone)
			}
		})
	}
}

func TestScheduleNotRepublishedOnRestart(t *testing.T) {
	e := setupNATS(t)
	p := fixedPolicy{policy.Default()}
	first, firstRec := e.newNATSReaper(e.config("r1"), e.st, p)
	e.startReaper(first, firstRec)
	s, err := e.js.Stream(context.Background(), ticksStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	before, err := s.GetLastMsgForSubject(context.Background(), reaper.ScheduleSubject)
	if err != nil {
		t.Fatalf("schedule message: %v", err)
	}

	second, secondRec := e.newNATSReaper(e.config("r2"), e.st, p)
	e.startReaper(second, secondRec)
	after, err := s.GetLastMsgForSubject(context.Background(), reaper.ScheduleSubject)
	if err != nil {
		t.Fatalf("schedule message: %v", err)
	}
	if after.Sequence != before.Sequence {
		t.Errorf("schedule message after a second replica started: got sequence %d, want the unchanged %d", after.Sequence, before.Sequence)
	}
	// The existing stream matches what the second replica would create.
	if got := secondRec.count(t, "stream configuration differs"); got != 0 {
		t.Errorf("stream difference records of the second replica: got %d, want 0", got)
	}
}

func TestTwoReplicasOneTick(t *testing.T) {
	e := setupNATS(t)
	p := fixedPolicy{parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}}}`)}
	insert(t, e.st, "winston_logs", aged("alice", baseTime, 2*day, 3*day, time.Hour)...)
	for _, id := range []string{"r1", "r2"} {
		r, rec := e.newNATSReaper(e.config(id), e.st, p)
		e.startReaper(r, rec)
	}

	seq := e.publishTick()
	e.waitAcked(seq)

	docs := audits(t, e.db)
	if len(docs) != 1 {
		t.Fatalf("audit documents for one tick and two replicas: got %d, want 1", len(docs))
	}
	if got := docs[0].Total; got != 2 {
		t.Errorf("audit total: got %d, want 2", got)
	}
	if docs[0].TickID == reaper.ManualTick {
		t.Errorf("audit tick_id: got %q, want the tick's sequence", docs[0].TickID)
	}
}

func TestTickWhileStoreDown(t *testing.T) {
	e := setupNATS(t)
	p := fixedPolicy{parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}}}`)}
	insert(t, e.st, "winston_logs", aged("alice", baseTime, 2*day, time.Hour)...)

	// A short timeout makes each failed attempt quick.
	mcfg := e.mongo.Config
	mcfg.Timeout = time.Second
	st, err := store.Connect(context.Background(), mcfg, testenv.Logger(t))
	if err != nil {
		t.Fatalf("connect store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	r, rec := e.newNATSReaper(e.config("r1"), st, p)
	e.startReaper(r, rec)

	e.mongo.Stop()
	seq := e.publishTick()
	testenv.Eventually(t, waitLong, func() bool {
		return rec.count(t, "Session cleanup failed; the tick will be retried") >= 2
	}, "the run never failed twice while the store was down")
	if info := e.consumerInfo(); info.AckFloor.Stream >= seq {
		t.Fatalf("ack floor while the store is down: got %d, want below the tick's %d", info.AckFloor.Stream, seq)
	}
	failed := rec.records(t, "Session cleanup failed; the tick will be retried")
	if failed[0]["tick_id"] != float64(seq) || failed[0]["err"] == nil {
		t.Errorf("failure record: got %v, want tick_id %d and err", failed[0], seq)
	}

	e.mongo.Start(t)
	e.waitAcked(seq)
	docs := audits(t, e.db)
	if len(docs) != 1 {
		t.Fatalf("audit documents: got %d, want 1", len(docs))
	}
	if got := docs[0].collectionCounts()["winston_logs"]; got != 1 {
		t.Errorf("audit winston_logs deleted: got %d, want 1", got)
	}
	if got := count(t, e.db, "winston_logs", nil); got != 1 {
		t.Errorf("documents left: got %d, want the 1 that is not expired", got)
	}
}

func TestPolicyReload(t *testing.T) {
	e := setupNATS(t)
	path := filepath.Join(t.TempDir(), "session-config.json")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatalf("write policy: %v", err)
		}
	}
	write(`{"sessionCleanup": {"retentionPeriods": {"winston_logs": 30}, "cleanupInterval": 24}}`)
	w, err := policy.NewWatcher(path, testenv.Logger(t))
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	insert(t, e.st, "winston_logs", aged("alice", baseTime, 10*day, time.Hour)...)

	r, rec := e.newNATSReaper(e.config("r1"), e.st, w)
	e.startReaper(r, rec)
	if got := e.scheduleHeader(jetstream.ScheduleHeader); got != "@every 24h0m0s" {
		t.Fatalf("Nats-Schedule at start: got %q, want @every 24h0m0s", got)
	}

	seq := e.publishTick()
	e.waitAcked(seq)
	if got := count(t, e.db, "winston_logs", nil); got != 2 {
		t.Fatalf("documents after a run with 30 days: got %d, want 2", got)
	}

	// A good edit shortens the retention and the interval.
	write(`{"sessionCleanup": {"retentionPeriods": {"winston_logs": 7}, "cleanupInterval": 12}}`)
	if _, err := w.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	good := w.Current().Version
	testenv.Eventually(t, waitLong, func() bool {
		return rec.count(t, "Session cleanup scheduled every 12 hours") > 0
	}, "the schedule change to 12 hours was never logged")
	if got := e.scheduleHeader(jetstream.ScheduleHeader); got != "@every 12h0m0s" {
		t.Errorf("Nats-Schedule after the edit: got %q, want @every 12h0m0s", got)
	}

	// A broken edit keeps the last good policy.
	write(`{"sessionCleanup": {"retentionPeriods": {"winston_logs": -1}, "cleanupInterval": 1}}`)
	if _, err := w.Reload(); !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("Reload of a broken edit: got %v, want policy.ErrInvalid", err)
	}

	seq = e.publishTick()
	e.waitAcked(seq)
	if got := count(t, e.db, "winston_logs", nil); got != 1 {
		t.Errorf("documents after a run with 7 days: got %d, want 1", got)
	}
	if got := e.scheduleHeader(jetstream.ScheduleHeader); got != "@every 12h0m0s" {
		t.Errorf("Nats-Schedule after a broken edit: got %q, want @every 12h0m0s", got)
	}
	docs := audits(t, e.db)
	if len(docs) != 2 {
		t.Fatalf("audit documents: got %d, want 2", len(docs))
	}
	if got := docs[1].PolicyVersion; got != good {
		t.Errorf("audit policy_version after a broken edit: got %s, want the last good %s", got, good)
	}
}

// TestOverlappingTick holds a run open while a second tick arrives. The
// stream drops the first tick, so the server delivers the second one to the
// idle replica, and the run lease makes that replica wait. Once the run has
// completed, the second tick is skipped because it was stored during that
// run.
func TestOverlappingTick(t *testing.T) {
	e := setupNATS(t)
	p := fixedPolicy{parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}}}`)}
	insert(t, e.st, "winston_logs", aged("alice", baseTime, 2*day)...)

	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	hold := func(ctx context.Context, _ string) error {
		once.Do(func() {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
		return nil
	}
	var recs []*recorder
	for _, id := range []string{"r1", "r2"} {
		r, rec := e.newNATSReaper(e.config(id), e.st, p)
		r.SetBeforeCollection(hold)
		e.startReaper(r, rec)
		recs = append(recs, rec)
	}
	countAll := func(prefix string) int {
		n := 0
		for _, rec := range recs {
			n += rec.count(t, prefix)
		}
		return n
	}

	first := e.publishTick()
	<-started

	// The run outlives the ack wait of one second: the heartbeat renews
	// the lease every third of it, and the tick is not redelivered.
	s, err := e.js.Stream(context.Background(), ticksStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	lease := func() uint64 {
		m, err := s.GetLastMsgForSubject(context.Background(), reaper.StateSubject)
		if err != nil {
			t.Fatalf("run state: %v", err)
		}
		return m.Sequence
	}
	acquired := lease()
	testenv.Eventually(t, waitLong, func() bool { return lease() >= acquired+4 }, "the lease was not renewed 4 times")
	if got := e.consumerInfo().NumRedelivered; got != 0 {
		t.Errorf("redelivered ticks during a long run: got %d, want 0", got)
	}

	second := e.publishTick()
	testenv.Eventually(t, waitLong, func() bool {
		return countAll("tick deferred: another replica is running a cleanup") >= 1
	}, "the second tick was never deferred")
	close(release)

	e.waitAcked(second)
	if got := countAll("tick skipped: it was stored before the last cleanup run ended"); got < 1 {
		t.Errorf("skipped tick records: got %d, want at least 1", got)
	}
	docs := audits(t, e.db)
	if len(docs) != 1 {
		t.Fatalf("audit documents for two overlapping ticks: got %d, want 1", len(docs))
	}
	if got, want := docs[0].TickID, formatSeq(first); got != want {
		t.Errorf("audit tick_id: got %s, want the first tick %s", got, want)
	}
	if got := countAll("Running scheduled session cleanup..."); got != 1 {
		t.Errorf("runs: got %d, want 1", got)
	}
}

func formatSeq(seq uint64) string { return strconv.FormatUint(seq, 10) }

// TestAbandonedLeaseTakenOver leaves the lease of a replica that stopped
// mid-run in the stream. A tick waits while the lease is younger than the
// ack wait, and then runs.
func TestAbandonedLeaseTakenOver(t *testing.T) {
	e := setupNATS(t)
	p := fixedPolicy{parsePolicy(t, `{"sessionCleanup": {"retentionPeriods": {"winston_logs": 1}}}`)}
	insert(t, e.st, "winston_logs", aged("alice", baseTime, 2*day)...)
	r, rec := e.newNATSReaper(e.config("r1"), e.st, p)
	e.startReaper(r, rec)

	if _, err := e.js.Publish(context.Background(), reaper.StateSubject, []byte(`{"state":"running","replica":"stopped-replica","tick":1}`)); err != nil {
		t.Fatalf("publish abandoned lease: %v", err)
	}
	seq := e.publishTick()
	e.waitAcked(seq)

	if got := rec.count(t, "tick deferred: another replica is running a cleanup"); got < 1 {
		t.Errorf("deferred tick records while the lease was fresh: got %d, want at least 1", got)
	}
	takeovers := rec.records(t, "taking over a cleanup run that was not renewed")
	if len(takeovers) != 1 || takeovers[0]["abandoned_by"] != "stopped-replica" {
		t.Errorf("takeover records: got %v, want one naming stopped-replica", takeovers)
	}
	docs := audits(t, e.db)
	if len(docs) != 1 || docs[0].Total != 1 {
		t.Fatalf("audit documents: got %+v, want one that deleted 1 document", docs)
	}
}
