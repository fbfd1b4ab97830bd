package reaper

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/policy"
)

// Defaults of Config. The env tags of Config repeat them as text.
const (
	DefaultTicksStream     = "STEWARD_TICKS"
	DefaultConsumer        = "reaper"
	DefaultDeleteBatchSize = 5000
	DefaultAckWait         = time.Minute
	DefaultRetryDelay      = time.Minute
	DefaultFetchWait       = 5 * time.Second
)

// MaxDeleteBatchSize is the largest STEWARD_DELETE_BATCH_SIZE accepted.
//
// NOTE: FerretDB 1.x on SQLite fails a delete that matches more than about
// 32,000 documents ("too many SQL variables"), so keep the batch size well
// below that there. MongoDB has no such limit.
const MaxDeleteBatchSize = 1_000_000

// Config configures a Reaper. A zero field takes its default. FromConfig
// fills it from the STEWARD_* settings, and code sets the others.
type Config struct {
	// TicksStream is the JetStream stream that holds the schedule, the ticks
	// and the run state. Run creates it when it does not exist.
	TicksStream string

	// Consumer is the durable consumer of ticks that all replicas share.
	Consumer string

	// DeleteBatchSize is the maximum number of documents removed by one
	// delete command when the policy sets no deleteBatchSize. Default 5000.
	DeleteBatchSize int

	// AckWait is how long the server waits for an acknowledgement or a
	// progress report on a tick before it redelivers the tick. A running
	// cleanup reports progress and renews its lease every AckWait/3, and a
	// lease not renewed for AckWait counts as abandoned by a replica that
	// stopped. Default 1m, minimum 1s.
	AckWait time.Duration

	// RetryDelay is how long a tick waits for redelivery after a failed run,
	// or while another replica runs a cleanup. Default 1m.
	RetryDelay time.Duration

	// EventsStream is the events stream whose expired events a scheduled
	// run purges. Empty purges nothing.
	EventsStream string

	// ReplicaID names this replica in audit documents, logs and the run
	// lease. Empty means hostname:pid.
	ReplicaID string

	// StreamReplicas is the replication factor of the ticks stream when Run
	// creates it: 1, or 3 or 5 on a cluster. 0 means 1. cmd/reaper copies
	// STEWARD_STREAM_REPLICAS into it.
	StreamReplicas int

	// FetchWait is how long one fetch waits for a tick. It also bounds how
	// long a changed schedule in a reloaded policy waits before it is
	// published, and how long Run takes to stop. Default 5s.
	FetchWait time.Duration

	// Now returns the current time, which cleanup cutoffs count back from.
	// Nil means time.Now. Tests set a fake clock.
	Now func() time.Time

	// scheduleSpec replaces the policy's Nats-Schedule value when set. Only
	// tests set it, because the policy allows no interval below a minute.
	scheduleSpec string
}

// FromConfig returns the reaper settings of cfg.
func FromConfig(cfg *config.Config) Config {
	return Config{
		TicksStream:     cfg.Reaper.TicksStream,
		Consumer:        cfg.Reaper.ReaperConsumer,
		DeleteBatchSize: cfg.Reaper.DeleteBatchSize,
		AckWait:         cfg.Reaper.ReaperAckWait,
		RetryDelay:      cfg.Reaper.RetryDelay,
		ReplicaID:       cfg.Reaper.ReplicaID,
		StreamReplicas:  cfg.Stream.Replicas,
		EventsStream:    cfg.Stream.EventsStream,
	}
}

// PolicySource returns the retention policy in force. *policy.Watcher
// implements it; Current must never return nil.
type PolicySource interface {
	Current() *policy.Policy
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.TicksStream == "" {
		c.TicksStream = DefaultTicksStream
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.DeleteBatchSize == 0 {
		c.DeleteBatchSize = DefaultDeleteBatchSize
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.FetchWait == 0 {
		c.FetchWait = DefaultFetchWait
	}
	if c.StreamReplicas == 0 {
		c.StreamReplicas = 1
	}
	if c.ReplicaID == "" {
		c.ReplicaID = defaultReplicaID()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate returns every invalid field in one error, each naming its
// environment variable and value. Zero fields take their defaults first, as
// in New.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(ok bool, name string, value any, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s=%v is invalid: want %s", name, value, want))
		}
	}
	check(validName(c.TicksStream), "STEWARD_TICKS_STREAM", c.TicksStream, "a stream name without '.', '*', '>' or spaces")
	check(validName(c.Consumer), "STEWARD_REAPER_CONSUMER", c.Consumer, "a consumer name without '.', '*', '>' or spaces")
	check(c.DeleteBatchSize >= 1 && c.DeleteBatchSize <= MaxDeleteBatchSize, "STEWARD_DELETE_BATCH_SIZE", c.DeleteBatchSize,
		fmt.Sprintf("1 to %d documents", MaxDeleteBatchSize))
	check(c.AckWait >= time.Second, "STEWARD_REAPER_ACK_WAIT", c.AckWait, "a duration of at least 1s")
	check(c.RetryDelay > 0, "STEWARD_REAPER_RETRY_DELAY", c.RetryDelay, "a positive duration such as 1m")
	check(len(c.ReplicaID) <= 256, "STEWARD_REAPER_ID", c.ReplicaID, "at most 256 characters")
	check(c.StreamReplicas == 1 || c.StreamReplicas == 3 || c.StreamReplicas == 5, "STEWARD_STREAM_REPLICAS", c.StreamReplicas, "1, 3 or 5")
	if c.FetchWait <= 0 {
		errs = append(errs, fmt.Errorf("FetchWait %v is invalid: want a positive duration, or 0 for the default of %v", c.FetchWait, DefaultFetchWait))
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

// defaultReplicaID returns hostname:pid, which distinguishes replicas on one
// host and names the host an operator has to look at.
func defaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}
