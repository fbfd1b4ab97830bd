// Package bench measures Steward against the raw ceilings of its parts, in
// one run on one machine with one event mix. Machines here are shared and
// noisy, so only ratios measured side by side compare. The figures are the
// raw JetStream and store rates, ingest end to end, the reaper against a raw
// deleteMany, ingest latency while the reaper runs, and ingest memory with a
// small and a large backlog.
package bench
