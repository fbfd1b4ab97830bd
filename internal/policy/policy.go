package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// DefaultSource is the Source of the policy that Default returns.
const DefaultSource = "default"

// DefaultInterval is the time between cleanups when the file sets neither
// cleanupInterval nor cleanupSchedule.
const DefaultInterval = 24 * time.Hour

// MinInterval is the shortest cleanupInterval accepted. A cleanupSchedule is
// held to the same limit: it may fire at most once a minute.
const MinInterval = time.Minute

const day = 24 * time.Hour

// Policy is a validated retention policy. Default, Parse and Load return a
// new Policy that this package never modifies afterwards, so goroutines may
// share it as long as they treat it, including the Retention map, as
// read-only.
type Policy struct {
	// Enabled reports whether scheduled cleanup runs. Default true. The data
	// types in Retention are accepted either way.
	Enabled bool

	// Retention maps each data type, which is a MongoDB collection name and a
	// NATS subject token, to how long its documents are kept. Every data type
	// Steward stores has an entry.
	Retention map[string]time.Duration

	// Interval is the time between cleanups. Default 24h, minimum one minute.
	// It is ignored when Schedule is set.
	Interval time.Duration

	// Schedule is a six-field cron expression or a predefined schedule such
	// as "@daily", in the syntax of nats-server message schedules. Empty
	// means that cleanup runs every Interval.
	Schedule string

	// TimeZone is the IANA time zone that Schedule is evaluated in, such as
	// "Europe/Berlin". Empty means UTC. It is set only together with Schedule.
	TimeZone string

	// DeleteBatchSize is the number of documents to remove per delete
	// command. 0 means the caller's default.
	DeleteBatchSize int

	// Version is the first 12 hex digits of the SHA-256 of the policy's
	// canonical form, so audit records can name the policy. Files with the
	// same settings have the same Version, whatever their formatting, key
	// order or unknown keys.
	Version string

	// Source is the path the policy was read from, or DefaultSource.
	Source string
}

// Default returns the policy of the desktop app's shipped session-config.json:
// cleanup enabled, run every 24 hours, and four data types.
func Default() *Policy {
	p := defaults()
	p.Version = p.computeVersion()
	return p
}

// defaults returns the default policy without its Version.
func defaults() *Policy {
	return &Policy{
		Enabled: true,
		Retention: map[string]time.Duration{
			"testcase_generator": 30 * day,
			"codegen_recordings": 60 * day,
			"generated_scripts":  45 * day,
			"winston_logs":       90 * day,
		},
		Interval: DefaultInterval,
		Source:   DefaultSource,
	}
}

// Types returns the data types of the policy, sorted.
func (p *Policy) Types() []string {
	return slices.Sorted(maps.Keys(p.Retention))
}

// Allows reports whether dataType has a retention period. Steward stores
// only such types, whether or not cleanup is enabled.
func (p *Policy) Allows(dataType string) bool {
	_, ok := p.Retention[dataType]
	return ok
}

// RetentionFor returns the retention period of dataType and whether the
// policy has one.
func (p *Policy) RetentionFor(dataType string) (time.Duration, bool) {
	d, ok := p.Retention[dataType]
	return d, ok
}

// Longest returns the maximum retention period of all data types, or 0 when
// the policy has none.
func (p *Policy) Longest() time.Duration {
	var longest time.Duration
	for _, d := range p.Retention {
		longest = max(longest, d)
	}
	return longest
}

// ScheduleSpec returns the value for the Nats-Schedule header of the
// cleanup tick: Schedule when it is set, otherwise "@every" and Interval,
// such as "@every 24h0m0s". Send TimeZone in Nats-Schedule-Time-Zone only
// with Schedule, because nats-server rejects a time zone for "@every".
func (p *Policy) ScheduleSpec() string {
	if p.Schedule != "" {
		return p.Schedule
	}
	return "@every " + p.Interval.String()
}

// canonicalPolicy is the form that Version hashes. Durations are whole
// nanoseconds, so the hash does not depend on how the file wrote a number,
// and encoding/json writes map keys sorted.
type canonicalPolicy struct {
	Enabled         bool             `json:"enabled"`
	RetentionNanos  map[string]int64 `json:"retention_ns"`
	IntervalNanos   int64            `json:"interval_ns"`
	Schedule        string           `json:"schedule"`
	TimeZone        string           `json:"time_zone"`
	DeleteBatchSize int              `json:"delete_batch_size"`
}

func (p *Policy) computeVersion() string {
	c := canonicalPolicy{
		Enabled:         p.Enabled,
		RetentionNanos:  make(map[string]int64, len(p.Retention)),
		IntervalNanos:   int64(p.Interval),
		Schedule:        p.Schedule,
		TimeZone:        p.TimeZone,
		DeleteBatchSize: p.DeleteBatchSize,
	}
	for name, d := range p.Retention {
		c.RetentionNanos[name] = int64(d)
	}

	// Marshal cannot fail: the struct holds only bools, strings and integers.
	data, _ := json.Marshal(c)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}
