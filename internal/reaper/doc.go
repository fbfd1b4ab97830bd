// Package reaper deletes stored documents whose retention period is over.
//
// A cleanup run takes the current retention policy and, for each data type,
// deletes the documents whose received_at (the stream's timestamp of the
// event, never the client's clock) is older than the type's retention period.
// It deletes in bounded slices of receive time rather than with one large
// delete, then removes session documents that no longer have any data. Every
// run, including a dry run, writes one document to the audit collection and
// logs one line per collection.
//
// Runs are triggered by ticks from a JetStream message schedule, so no
// replica keeps its own timer:
//
//	steward.ticks.schedule.retention  the schedule message (Nats-Schedule header)
//	steward.ticks.retention           the ticks it produces
//	steward.ticks.state.retention     the run lease and the end of the last completed run
//
// All replicas share one durable consumer of the ticks. The state message
// makes sure that only one run happens at a time. A tick stored before the
// last completed run ended is acknowledged without a run, so ticks that
// piled up while no replica ran cause a single run.
//
// RunOnce runs one cleanup directly, without NATS, for `reaper -once` and
// the dev stack.
package reaper
