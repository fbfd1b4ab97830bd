package bench

import (
	"time"
)

// Result is one measured figure.
type Result struct {
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// P50 and P99 are latencies in milliseconds, where the figure has them.
	P50 float64 `json:"p50_ms,omitempty"`
	P99 float64 `json:"p99_ms,omitempty"`
	// PeakRSSMiB is the peak resident memory of the ingest process, for the
	// memory figures.
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
}

func rate(name string, n int, d time.Duration) Result {
	return Result{Name: name, Count: n, Seconds: d.Seconds(), PerSecond: float64(n) / d.Seconds()}
}
