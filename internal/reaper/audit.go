package reaper

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/stewardhq/steward/internal/store"
)

// AuditKind is the kind field of the audit documents of cleanup runs.
const AuditKind = "retention"

// auditDocument returns the audit document of a run. On a dry run each
// collection carries would_delete in place of deleted.
func auditDocument(rep *Report) bson.D {
	countKey := "deleted"
	if rep.DryRun {
		countKey = "would_delete"
	}
	collections := make(bson.A, 0, len(rep.Collections))
	for _, c := range rep.Collections {
		var errText any // null when the collection succeeded
		if c.Err != nil {
			errText = c.Err.Error()
		}
		collections = append(collections, bson.D{
			{Key: "collection", Value: c.Collection},
			{Key: countKey, Value: c.Deleted},
			{Key: "batches", Value: c.Batches},
			{Key: "cutoff", Value: c.Cutoff},
			{Key: "retention_days", Value: c.RetentionDays()},
			{Key: "error", Value: errText},
		})
	}
	return bson.D{
		{Key: "kind", Value: AuditKind},
		{Key: "tick_id", Value: rep.TickID},
		{Key: "replica", Value: rep.Replica},
		{Key: "started_at", Value: rep.StartedAt},
		{Key: "ended_at", Value: rep.EndedAt},
		{Key: "as_of", Value: rep.AsOf},
		{Key: "dry_run", Value: rep.DryRun},
		{Key: "enabled", Value: rep.Enabled},
		{Key: "policy_version", Value: rep.PolicyVersion},
		{Key: "policy_source", Value: rep.PolicySource},
		{Key: "collections", Value: collections},
		{Key: "total", Value: rep.Total},
		{Key: "errors", Value: rep.Errors},
		{Key: "stream_purged", Value: int64(rep.StreamPurged)},
	}
}

// writeAudit inserts the run's audit document into the audit collection.
func (r *Reaper) writeAudit(ctx context.Context, rep *Report) error {
	if _, err := r.store.Database().Collection(store.AuditCollection).InsertOne(ctx, auditDocument(rep)); err != nil {
		return fmt.Errorf("insert into %s: %w", store.AuditCollection, err)
	}
	return nil
}
