package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/devstack"
	"github.com/stewardhq/steward/internal/natsconn"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/reaper"
	"github.com/stewardhq/steward/internal/store"
)

// Options configures a benchmark run.
type Options struct {
	// Events is the number of events of each measurement. Default 20000.
	Events int
	// BatchSize is the ingest batch size and the insertMany batch of the
	// raw store figure. Default 500.
	BatchSize int
	// ReaperDocs is the number of expired documents the reaper deletes.
	// Default 20000, below FerretDB's limit for one raw deleteMany.
	ReaperDocs int
	// Mix is the event mix. Zero means DefaultMix.
	Mix Mix
	// NATSURL and MongoURI name external servers; empty starts embedded
	// ones in a temporary directory.
	NATSURL, MongoURI string
	// IngestCommand returns the command that runs one ingest worker
	// configured by STEWARD_* variables.
	IngestCommand func() *exec.Cmd
	// Progress receives one line per step. Nil discards them.
	Progress io.Writer
}

// Report is the outcome of Run.
type Report struct {
	Machine string   `json:"machine"`
	Options string   `json:"options"`
	Results []Result `json:"results"`
	// IngestRatio is end-to-end ingest over the lower raw ceiling.
	IngestRatio float64 `json:"ingest_ratio"`
	// ReaperRatio is the reaper's delete rate over a raw deleteMany of the
	// same documents.
	ReaperRatio float64 `json:"reaper_ratio"`
	// P99Ratio is ingest p99 latency while the reaper runs over p99 without.
	P99Ratio float64 `json:"p99_ratio"`
	// MemoryRatio is peak ingest RSS with a backlog of 100 batches over the
	// peak with 10 batches; flat memory keeps it near 1.
	MemoryRatio float64 `json:"memory_ratio"`
}

// Run measures the raw ceilings, ingest, the reaper and ingest memory in
// one run on the same machine and event mix.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts = withDefaults(opts)
	progress := func(format string, args ...any) {
		fmt.Fprintf(opts.Progress, format+"\n", args...)
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)

	natsURL, mongoURI, cleanup, err := servers(opts)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	quiet := slog.New(slog.DiscardHandler)
	nc, js, err := natsconn.Connect(config.NATS{URL: natsURL}, "steward-bench", quiet)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	client, err := mongo.Connect(options.Client().ApplyURI(mongoURI).SetTimeout(5 * time.Minute))
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	defer client.Disconnect(context.Background())
	dbName := "steward_bench_" + runID
	db := client.Database(dbName)
	defer db.Drop(context.Background())

	rep := &Report{
		Machine: fmt.Sprintf("%d CPUs, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Options: fmt.Sprintf("events=%d batch=%d reaper_docs=%d mix=%d%% logs/%d%% scripts/%d%% recordings", opts.Events, opts.BatchSize, opts.ReaperDocs,
			100-opts.Mix.ScriptsPercent-opts.Mix.RecordingsPercent, opts.Mix.ScriptsPercent, opts.Mix.RecordingsPercent),
	}
	progress("generating %d events", opts.Events)
	evs, err := Generate(opts.Events, opts.Mix, 1, runID+"-a")
	if err != nil {
		return nil, err
	}

	progress("(a) raw JetStream")
	pub, cons, err := rawJetStream(ctx, js, evs, opts.BatchSize, runID)
	if err != nil {
		return nil, err
	}
	rep.Results = append(rep.Results, pub, cons)

	progress("(b) raw store")
	docs, err := documents(evs)
	if err != nil {
		return nil, err
	}
	rawSt, err := store.Connect(ctx, config.Mongo{URI: mongoURI, Database: dbName, Timeout: 5 * time.Minute}, quiet)
	if err != nil {
		return nil, err
	}
	defer rawSt.Close(context.Background())
	storeRaw, err := rawStore(ctx, rawSt, docs, opts.BatchSize, runID)
	if err != nil {
		return nil, err
	}
	rep.Results = append(rep.Results, storeRaw)

	stream, consumer := "BENCH_EVENTS_"+runID, "bench-ingest"
	env := []string{
		"STEWARD_NATS_URL=" + natsURL, "STEWARD_MONGODB_URI=" + mongoURI, "STEWARD_MONGODB_DATABASE=" + dbName,
		"STEWARD_EVENTS_STREAM=" + stream, "STEWARD_DLQ_STREAM=BENCH_DLQ_" + runID, "STEWARD_INGEST_CONSUMER=" + consumer,
		"STEWARD_BATCH_SIZE=" + strconv.Itoa(opts.BatchSize), "STEWARD_MAX_ACK_PENDING=" + strconv.Itoa(4*opts.BatchSize),
		"STEWARD_LOG_FORMAT=json", "STEWARD_LOG_LEVEL=warn",
	}
	defer js.DeleteStream(context.Background(), stream)
	defer js.DeleteStream(context.Background(), "BENCH_DLQ_"+runID)

	progress("(c) ingest end to end")
	ing, err := startIngest(ctx, opts.IngestCommand, env, js, stream, consumer)
	if err != nil {
		return nil, err
	}
	burst, err := endToEnd(ctx, js, stream, consumer, "ingest end to end (burst)", evs, 0)
	if err != nil {
		ing.stop()
		return nil, err
	}
	rep.Results = append(rep.Results, burst)
	pace := burst.PerSecond / 2
	paced, err := Generate(opts.Events/2, opts.Mix, 2, runID+"-b")
	if err != nil {
		ing.stop()
		return nil, err
	}
	steady, err := endToEnd(ctx, js, stream, consumer, fmt.Sprintf("ingest at %.0f/s (half the burst rate)", pace), paced, pace)
	if err != nil {
		ing.stop()
		return nil, err
	}
	rep.Results = append(rep.Results, steady)

	progress("(d) reaper")
	reap, rawDelete, withReaper, err := measureReaper(ctx, client.Database(dbName), mongoURI, js, stream, consumer, opts, runID, pace)
	if err != nil {
		ing.stop()
		return nil, err
	}
	rep.Results = append(rep.Results, reap, rawDelete, withReaper)
	if err := ing.stop(); err != nil {
		return nil, err
	}

	progress("(e) ingest memory with a backlog")
	mem, err := measureMemory(ctx, opts, env, js, stream, consumer, runID)
	if err != nil {
		return nil, err
	}
	rep.Results = append(rep.Results, mem...)

	rep.IngestRatio = burst.PerSecond / min(pub.PerSecond, cons.PerSecond, storeRaw.PerSecond)
	rep.ReaperRatio = reap.PerSecond / rawDelete.PerSecond
	if steady.P99 > 0 {
		rep.P99Ratio = withReaper.P99 / steady.P99
	}
	if mem[0].PeakRSSMiB > 0 {
		rep.MemoryRatio = mem[1].PeakRSSMiB / mem[0].PeakRSSMiB
	}
	return rep, nil
}

func withDefaults(o Options) Options {
	if o.Events <= 0 {
		o.Events = 20000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.ReaperDocs <= 0 {
		o.ReaperDocs = 20000
	}
	if o.Mix == (Mix{}) {
		o.Mix = DefaultMix
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// servers returns the URLs to measure against, starting embedded servers
// when none are given.
func servers(opts Options) (natsURL, mongoURI string, cleanup func(), err error) {
	if opts.NATSURL != "" && opts.MongoURI != "" {
		return opts.NATSURL, opts.MongoURI, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "steward-bench-")
	if err != nil {
		return "", "", nil, err
	}
	n, err := devstack.StartNATS(devstack.NATSConfig{Port: -1, StoreDir: dir + "/nats", MaxPayload: 8 << 20})
	if err != nil {
		os.RemoveAll(dir)
		return "", "", nil, err
	}
	m, err := devstack.StartMongo(devstack.MongoConfig{Port: -1, Dir: dir + "/ferretdb"})
	if err != nil {
		n.Stop()
		os.RemoveAll(dir)
		return "", "", nil, err
	}
	return n.URL(), m.URI(), func() { m.Stop(); n.Stop(); os.RemoveAll(dir) }, nil
}

// expiredDocuments inserts n documents into winston_logs whose receive time
// lies a year back, so the default policy expires them.
func expiredDocuments(ctx context.Context, db *mongo.Database, n, batch int, tag string) error {
	old := time.Now().AddDate(-1, 0, 0)
	c := db.Collection("winston_logs")
	for i := 0; i < n; i += batch {
		docs := make([]any, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			docs = append(docs, bson.D{
				{Key: "_id", Value: fmt.Sprintf("old-user:%s-%d", tag, j)},
				{Key: "user_id", Value: "old-user"}, {Key: "session_id", Value: "old"},
				{Key: store.FieldReceivedAt, Value: bson.NewDateTimeFromTime(old.Add(time.Duration(j) * time.Millisecond))},
				{Key: store.FieldData, Value: bson.D{{Key: "message", Value: "expired log line of the benchmark"}}},
			})
		}
		if _, err := c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return fmt.Errorf("insert expired documents: %w", err)
		}
	}
	return nil
}

// measureReaper times a reaper run over expired documents, a raw deleteMany
// of as many documents, and ingest latency while the reaper runs.
func measureReaper(ctx context.Context, db *mongo.Database, mongoURI string, js jetstream.JetStream, stream, consumer string, opts Options, runID string, pace float64) (reap, raw, withReaper Result, err error) {
	st, err := store.Connect(ctx, config.Mongo{URI: mongoURI, Database: db.Name(), Timeout: 5 * time.Minute}, slog.New(slog.DiscardHandler))
	if err != nil {
		return reap, raw, withReaper, err
	}
	defer st.Close(context.Background())
	r, err := reaper.New(nil, st, reaper.Config{}, staticPolicy{policy.Default()}, slog.New(slog.DiscardHandler))
	if err != nil {
		return reap, raw, withReaper, err
	}

	if err := expiredDocuments(ctx, db, opts.ReaperDocs, opts.BatchSize, "r1"); err != nil {
		return reap, raw, withReaper, err
	}
	start := time.Now()
	out, err := r.RunOnce(ctx, time.Time{}, false)
	if err != nil {
		return reap, raw, withReaper, fmt.Errorf("reaper run: %w", err)
	}
	reap = rate("reaper delete", int(out.Total), time.Since(start))

	if err := expiredDocuments(ctx, db, opts.ReaperDocs, opts.BatchSize, "r2"); err != nil {
		return reap, raw, withReaper, err
	}
	start = time.Now()
	res, err := db.Collection("winston_logs").DeleteMany(ctx, bson.D{{Key: store.FieldReceivedAt, Value: bson.D{{Key: "$lt", Value: bson.NewDateTimeFromTime(time.Now().AddDate(0, 0, -90))}}}})
	if err != nil {
		return reap, raw, withReaper, fmt.Errorf("raw deleteMany: %w", err)
	}
	raw = rate("raw deleteMany", int(res.DeletedCount), time.Since(start))

	if err := expiredDocuments(ctx, db, opts.ReaperDocs, opts.BatchSize, "r3"); err != nil {
		return reap, raw, withReaper, err
	}
	evs, err := Generate(opts.Events/2, opts.Mix, 3, runID+"-c")
	if err != nil {
		return reap, raw, withReaper, err
	}
	reaperDone := make(chan error, 1)
	go func() {
		_, err := r.RunOnce(ctx, time.Time{}, false)
		reaperDone <- err
	}()
	withReaper, err = endToEnd(ctx, js, stream, consumer, fmt.Sprintf("ingest at %.0f/s while the reaper runs", pace), evs, pace)
	if rerr := <-reaperDone; err == nil && rerr != nil {
		err = fmt.Errorf("reaper run during ingest: %w", rerr)
	}
	return reap, raw, withReaper, err
}

// measureMemory fills a backlog of 10 and then 100 batches while no ingest
// runs, and reports the peak RSS of an ingest process that drains it.
func measureMemory(ctx context.Context, opts Options, env []string, js jetstream.JetStream, stream, consumer, runID string) ([]Result, error) {
	var out []Result
	for _, batches := range []int{10, 100} {
		evs, err := Generate(batches*opts.BatchSize, opts.Mix, uint64(batches), fmt.Sprintf("%s-mem%d", runID, batches))
		if err != nil {
			return nil, err
		}
		if err := publishAll(ctx, js, evs, func(e Event) string { return e.Subject }, 4096); err != nil {
			return nil, err
		}
		ing, err := startIngest(ctx, opts.IngestCommand, env, js, stream, consumer)
		if err != nil {
			return nil, err
		}
		if err := waitDrained(ctx, js, stream, consumer); err != nil {
			ing.stop()
			return nil, err
		}
		peak, err := ing.peakRSS()
		if serr := ing.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Result{Name: fmt.Sprintf("ingest peak RSS, backlog of %d batches", batches), Count: len(evs), PeakRSSMiB: float64(peak) / (1 << 20)})
	}
	return out, nil
}

// staticPolicy serves one policy to the reaper.
type staticPolicy struct{ p *policy.Policy }

func (s staticPolicy) Current() *policy.Policy { return s.p }

// waitDrained waits until the consumer has delivered and acked everything.
func waitDrained(ctx context.Context, js jetstream.JetStream, stream, consumer string) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		c, err := js.Consumer(ctx, stream, consumer)
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("ingest did not drain the backlog of %s within 10 minutes", stream)
}
