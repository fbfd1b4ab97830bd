package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/streams"
)

// ManualTick is the tick id of runs that RunOnce starts.
const ManualTick = "manual"

// ErrFutureAsOf is returned by RunOnce for a real run with an as-of time
// after now, which would delete documents before their retention ends.
var ErrFutureAsOf = errors.New("as-of time is in the future")

// Report describes one cleanup run. It is also the content of the run's
// audit document.
type Report struct {
	// TickID is the stream sequence of the tick, or ManualTick.
	TickID  string
	Replica string
	// StartedAt and EndedAt are read from Config.Now.
	StartedAt, EndedAt time.Time
	// AsOf is the time the cutoffs count back from.
	AsOf time.Time
	// DryRun means that documents were counted, not deleted.
	DryRun bool
	// Enabled is the policy's enabled setting. A real run with Enabled
	// false deletes nothing and has no Collections.
	Enabled       bool
	PolicyVersion string
	PolicySource  string
	// Collections has one entry per data type of the policy, sorted, then
	// one for the sessions collection.
	Collections []CollectionReport
	// Total is the sum of Deleted over Collections.
	Total int64
	// Errors is the number of Collections with an Err, plus one when the
	// stream purge failed.
	Errors int
	// StreamPurged is the number of expired events purged from the events
	// stream. Only scheduled runs purge, because RunOnce has no NATS.
	StreamPurged uint64
	// StreamErr is the error of the stream purge, or nil.
	StreamErr error
}

// CollectionReport is the outcome of one collection in a run.
type CollectionReport struct {
	Collection string
	// Retention is the collection's retention period. For the sessions
	// collection it is the policy's longest period.
	Retention time.Duration
	// Cutoff is AsOf minus Retention, rounded down to the millisecond that
	// MongoDB stores: documents received before it are expired.
	Cutoff time.Time
	// Deleted is the number of documents removed, or on a dry run, the
	// number that a real run would remove.
	Deleted int64
	// Batches is the number of delete commands sent.
	Batches int
	// Err is the failure of the collection, nil on success. Documents
	// deleted before the failure are counted in Deleted.
	Err error
}

// RetentionDays returns Retention in days, the unit of the policy file.
func (c CollectionReport) RetentionDays() float64 {
	return c.Retention.Hours() / 24
}

// Err returns the errors of the failed collections joined, or nil.
func (rep Report) Err() error {
	var errs []error
	for _, c := range rep.Collections {
		if c.Err != nil {
			errs = append(errs, fmt.Errorf("clean up %s: %w", c.Collection, c.Err))
		}
	}
	if rep.StreamErr != nil {
		errs = append(errs, rep.StreamErr)
	}
	return errors.Join(errs...)
}

// RunOnce runs one cleanup now, without NATS, whatever the schedule and
// whether or not another replica runs one. The cutoffs count back from asOf;
// the zero time means Config.Now. A dry run counts the documents that a
// real run would delete and deletes nothing. An asOf after now is accepted
// only for a dry run and otherwise returns ErrFutureAsOf. The error is
// non-nil when MongoDB is unreachable, any collection failed or the audit
// document could not be written. The Report is then filled as far as the
// run got.
func (r *Reaper) RunOnce(ctx context.Context, asOf time.Time, dryRun bool) (Report, error) {
	now := r.cfg.Now()
	if asOf.IsZero() {
		asOf = now
	}
	if asOf.After(now) && !dryRun {
		return Report{}, fmt.Errorf("run cleanup as of %s: %w (now is %s), and a real run would delete documents before their retention period ends; use a dry run to preview a future cleanup",
			asOf.Format(time.RFC3339), ErrFutureAsOf, now.Format(time.RFC3339))
	}
	return r.run(ctx, asOf, dryRun, ManualTick)
}

// run runs one cleanup of the current policy and writes its audit
// document. A failed collection is logged and recorded, and the others
// still run.
func (r *Reaper) run(ctx context.Context, asOf time.Time, dryRun bool, tickID string) (Report, error) {
	p := r.policies.Current()
	rep := Report{
		TickID:        tickID,
		Replica:       r.cfg.ReplicaID,
		StartedAt:     r.cfg.Now(),
		AsOf:          asOf,
		DryRun:        dryRun,
		Enabled:       p.Enabled,
		PolicyVersion: p.Version,
		PolicySource:  p.Source,
	}
	log := r.log.With("tick_id", tickID, "dry_run", dryRun)
	start := "Running scheduled session cleanup..."
	if tickID == ManualTick {
		start = "Running manual session cleanup..."
	}
	log.Info(start, "as_of", asOf, "policy_version", p.Version, "policy_source", p.Source, "enabled", p.Enabled)

	if err := r.store.Ping(ctx); err != nil {
		return rep, fmt.Errorf("run cleanup: mongodb is unreachable, nothing was deleted: %w", err)
	}

	switch {
	case !p.Enabled && !dryRun:
		log.Warn("Session cleanup is disabled by the policy; nothing was deleted", "policy_source", p.Source, "policy_version", p.Version)
	default:
		if !p.Enabled {
			log.Info("Session cleanup is disabled by the policy; this dry run counts what an enabled policy would delete", "policy_source", p.Source)
		}
		r.cleanCollections(ctx, log, p, &rep)
		if !dryRun && r.js != nil && r.cfg.EventsStream != "" {
			// The stream loses the events whose documents expired, with
			// the same cutoffs, so replay never restores expired data.
			purge, err := streams.PurgeExpired(ctx, r.js, r.cfg.EventsStream, p, asOf, log)
			rep.StreamPurged, rep.StreamErr = purge.Purged, err
			if err != nil {
				log.Error("purge expired events from the stream failed; the tick will be retried", "stream", r.cfg.EventsStream, "err", err)
			}
		}
	}

	rep.EndedAt = r.cfg.Now()
	for _, c := range rep.Collections {
		rep.Total += c.Deleted
		if c.Err != nil {
			rep.Errors++
		}
	}
	if rep.StreamErr != nil {
		rep.Errors++
	}
	logTotal(log, &rep)

	// The audit document records what was already deleted, so it is written
	// even when ctx was cancelled during the run.
	actx := context.WithoutCancel(ctx)
	if err := r.writeAudit(actx, &rep); err != nil {
		log.Error("write audit document failed; the log lines above are the only record of this run", "collection", store.AuditCollection, "deleted", rep.Total, "err", err)
		return rep, errors.Join(rep.Err(), fmt.Errorf("write audit document: %w", err))
	}
	return rep, rep.Err()
}

// cleanCollections cleans each data type of p, then the sessions.
func (r *Reaper) cleanCollections(ctx context.Context, log *slog.Logger, p *policy.Policy, rep *Report) {
	batchSize := r.cfg.DeleteBatchSize
	if p.DeleteBatchSize > 0 {
		batchSize = p.DeleteBatchSize
	}
	db := r.store.Database()

	// survivors maps each data type whose cleanup succeeded to its cutoff.
	// A dry run deletes nothing, so it counts a session as empty when all
	// of its documents are older than these cutoffs.
	survivors := make(map[string]time.Time)
	for _, name := range p.Types() {
		retention := p.Retention[name]
		c := CollectionReport{Collection: name, Retention: retention, Cutoff: cutoffOf(rep.AsOf, retention)}
		if ctx.Err() != nil {
			c.Err = fmt.Errorf("not started: %w", context.Cause(ctx))
		} else if r.beforeCollection != nil {
			c.Err = r.beforeCollection(ctx, name)
		}
		if c.Err == nil {
			coll := db.Collection(name)
			if rep.DryRun {
				c.Deleted, c.Err = countExpired(ctx, coll, c.Cutoff)
			} else {
				c.Deleted, c.Batches, c.Err = r.deleteExpired(ctx, log, coll, c.Cutoff, batchSize)
			}
		}
		if c.Err == nil {
			survivors[name] = c.Cutoff
		}
		logCollection(log, rep.DryRun, c)
		rep.Collections = append(rep.Collections, c)
	}

	longest := p.Longest()
	c := CollectionReport{Collection: store.SessionsCollection, Retention: longest, Cutoff: cutoffOf(rep.AsOf, longest)}
	if ctx.Err() != nil {
		c.Err = fmt.Errorf("not started: %w", context.Cause(ctx))
	} else {
		c.Deleted, c.Batches, c.Err = r.cleanSessions(ctx, db, c.Cutoff, survivors, rep.DryRun, batchSize)
	}
	logSessions(log, rep.DryRun, c)
	rep.Collections = append(rep.Collections, c)
}

// cutoffOf returns asOf minus retention, rounded down to the millisecond.
// MongoDB stores dates in milliseconds and the driver drops the rest, so
// rounding here makes the reported cutoff the one the query used. Rounding
// down never deletes a document before its period is over.
func cutoffOf(asOf time.Time, retention time.Duration) time.Time {
	return asOf.Add(-retention).Truncate(time.Millisecond).UTC()
}

func days(d time.Duration) string {
	return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64)
}

// logCollection logs a data collection's outcome in the wording of the
// desktop app, "Cleaned up 15 old documents from testcase_generator (older
// than 30 days)".
func logCollection(log *slog.Logger, dryRun bool, c CollectionReport) {
	attrs := []any{"collection", c.Collection, "retention_days", c.RetentionDays(), "cutoff", c.Cutoff}
	switch {
	case c.Err != nil:
		log.Error("cleanup of collection failed; continuing with the other collections",
			append(attrs, "deleted", c.Deleted, "batches", c.Batches, "err", c.Err)...)
	case dryRun:
		log.Info(fmt.Sprintf("Would clean up %d old documents from %s (older than %s days)", c.Deleted, c.Collection, days(c.Retention)),
			append(attrs, "would_delete", c.Deleted)...)
	default:
		log.Info(fmt.Sprintf("Cleaned up %d old documents from %s (older than %s days)", c.Deleted, c.Collection, days(c.Retention)),
			append(attrs, "deleted", c.Deleted, "batches", c.Batches)...)
	}
}

func logSessions(log *slog.Logger, dryRun bool, c CollectionReport) {
	attrs := []any{"collection", c.Collection, "retention_days", c.RetentionDays(), "cutoff", c.Cutoff}
	switch {
	case c.Err != nil:
		log.Error("cleanup of sessions failed", append(attrs, "deleted", c.Deleted, "err", c.Err)...)
	case dryRun:
		log.Info(fmt.Sprintf("Would clean up %d old sessions without data (older than %s days)", c.Deleted, days(c.Retention)),
			append(attrs, "would_delete", c.Deleted)...)
	default:
		log.Info(fmt.Sprintf("Cleaned up %d old sessions without data (older than %s days)", c.Deleted, days(c.Retention)),
			append(attrs, "deleted", c.Deleted)...)
	}
}

// logTotal logs the run's total in the wording of the desktop app,
// "Session cleanup completed: 23 total documents removed".
func logTotal(log *slog.Logger, rep *Report) {
	attrs := []any{"errors", rep.Errors, "started_at", rep.StartedAt, "ended_at", rep.EndedAt}
	switch {
	case rep.DryRun:
		log.Info(fmt.Sprintf("Session cleanup dry run completed: %d total documents would be removed", rep.Total),
			append(attrs, "would_delete", rep.Total)...)
	case rep.Errors > 0:
		log.Warn(fmt.Sprintf("Session cleanup finished with errors: %d total documents removed, %d collections failed", rep.Total, rep.Errors),
			append(attrs, "deleted", rep.Total)...)
	default:
		log.Info(fmt.Sprintf("Session cleanup completed: %d total documents removed", rep.Total),
			append(attrs, "deleted", rep.Total)...)
	}
}
