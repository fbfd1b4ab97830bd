// Package config reads Steward's STEWARD_* environment variables. It is the
// only package that reads the environment; every component receives its part
// of Config from main.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// NATS is the connection settings for NATS.
type NATS struct {
	// URL is a comma-separated list of server URLs.
	URL string `env:"STEWARD_NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	// User and Password authenticate with a user name and password.
	User     string `env:"STEWARD_NATS_USER"`
	Password string `env:"STEWARD_NATS_PASSWORD"`
	// Token authenticates with a token.
	Token string `env:"STEWARD_NATS_TOKEN"`
	// CredsFile is a JWT credentials file (decentralized auth).
	CredsFile string `env:"STEWARD_NATS_CREDS"`
	// NKeyFile is an NKey seed file.
	NKeyFile string `env:"STEWARD_NATS_NKEY"`
}

// Mongo is the connection settings for MongoDB.
type Mongo struct {
	// URI is the MongoDB connection string. Credentials in it are never
	// logged.
	URI string `env:"STEWARD_MONGODB_URI" envDefault:"mongodb://127.0.0.1:27017/"`
	// Database holds every Steward collection.
	Database string `env:"STEWARD_MONGODB_DATABASE" envDefault:"steward"`
	// Timeout bounds each store operation.
	Timeout time.Duration `env:"STEWARD_MONGODB_TIMEOUT" envDefault:"30s"`
}

// Stream is the JetStream layout shared by ingest, reaper and CLI.
type Stream struct {
	// EventsStream is the name of the stream of events.
	EventsStream string `env:"STEWARD_EVENTS_STREAM" envDefault:"STEWARD_EVENTS"`
	// DeadLetterStream is the name of the stream of rejected events.
	DeadLetterStream string `env:"STEWARD_DLQ_STREAM" envDefault:"STEWARD_DLQ"`
	// DeadLetterMaxAge is how long a dead letter is kept.
	DeadLetterMaxAge time.Duration `env:"STEWARD_DLQ_MAX_AGE" envDefault:"720h"`
	// DedupeWindow is how long the stream remembers event ids to drop
	// republished events.
	DedupeWindow time.Duration `env:"STEWARD_DEDUPE_WINDOW" envDefault:"2h"`
	// Replicas is the stream replication factor: 1, or 3 on a cluster.
	Replicas int `env:"STEWARD_STREAM_REPLICAS" envDefault:"1"`
}

// Ingest configures the ingest worker.
type Ingest struct {
	// Consumer is the durable consumer that all replicas share.
	Consumer string `env:"STEWARD_INGEST_CONSUMER" envDefault:"ingest"`
	// BatchSize is the most events fetched and written at once.
	BatchSize int `env:"STEWARD_BATCH_SIZE" envDefault:"500"`
	// MaxWait is how long a fetch waits for the first event when none is
	// waiting. A batch is never held back to fill up.
	MaxWait time.Duration `env:"STEWARD_MAX_WAIT" envDefault:"1s"`
	// MaxAckPending is the most unacknowledged events across all replicas.
	MaxAckPending int `env:"STEWARD_MAX_ACK_PENDING" envDefault:"4000"`
	// MaxPayload is the largest event accepted, in bytes.
	MaxPayload int `env:"STEWARD_MAX_PAYLOAD" envDefault:"1048576"`
	// AckWait is how long the server waits for an ack before redelivery.
	AckWait time.Duration `env:"STEWARD_ACK_WAIT" envDefault:"30s"`
}

// Reaper configures the reaper worker. Field names differ from Ingest's
// because the error messages map field names to variables.
type Reaper struct {
	// TicksStream holds the retention schedule, its ticks and the run state.
	TicksStream string `env:"STEWARD_TICKS_STREAM" envDefault:"STEWARD_TICKS"`
	// ReaperConsumer is the durable consumer of ticks that replicas share.
	ReaperConsumer string `env:"STEWARD_REAPER_CONSUMER" envDefault:"reaper"`
	// DeleteBatchSize is the most documents one delete removes when the
	// policy sets no deleteBatchSize.
	DeleteBatchSize int `env:"STEWARD_DELETE_BATCH_SIZE" envDefault:"5000"`
	// ReaperAckWait is the ack wait of a tick; a run reports progress every
	// third of it.
	ReaperAckWait time.Duration `env:"STEWARD_REAPER_ACK_WAIT" envDefault:"1m"`
	// RetryDelay is the wait before a failed or deferred tick is redelivered.
	RetryDelay time.Duration `env:"STEWARD_REAPER_RETRY_DELAY" envDefault:"1m"`
	// ReplicaID names this replica in audit documents and logs; empty means
	// hostname:pid.
	ReplicaID string `env:"STEWARD_REAPER_ID"`
}

// Log configures logging.
type Log struct {
	// Format is "auto" (colored text on a terminal, JSON otherwise),
	// "text" or "json".
	Format string `env:"STEWARD_LOG_FORMAT" envDefault:"auto"`
	// Level is debug, info, warn or error.
	Level string `env:"STEWARD_LOG_LEVEL" envDefault:"info"`
}

// Config is every STEWARD_* setting.
type Config struct {
	NATS   NATS
	Mongo  Mongo
	Stream Stream
	Ingest Ingest
	Reaper Reaper
	Log    Log
	// PolicyFile is the session-config.json with retention periods; empty
	// means the built-in defaults.
	PolicyFile string `env:"STEWARD_POLICY_FILE"`
}

// Load reads the environment and validates it. Errors name the variable and
// its value.
func Load() (*Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return nil, explain(err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate() error {
	var errs []error
	check := func(ok bool, name string, value any, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s=%v is invalid: want %s", name, value, want))
		}
	}
	check(c.Ingest.BatchSize >= 1 && c.Ingest.BatchSize <= 10000, "STEWARD_BATCH_SIZE", c.Ingest.BatchSize, "1 to 10000")
	check(c.Ingest.MaxWait >= 10*time.Millisecond, "STEWARD_MAX_WAIT", c.Ingest.MaxWait, "a duration of at least 10ms")
	check(c.Ingest.MaxAckPending >= c.Ingest.BatchSize, "STEWARD_MAX_ACK_PENDING", c.Ingest.MaxAckPending, fmt.Sprintf("at least STEWARD_BATCH_SIZE (%d)", c.Ingest.BatchSize))
	check(c.Ingest.MaxPayload >= 8192 && c.Ingest.MaxPayload <= 64<<20, "STEWARD_MAX_PAYLOAD", c.Ingest.MaxPayload, "8192 to 67108864 bytes")
	check(c.Ingest.AckWait >= time.Second, "STEWARD_ACK_WAIT", c.Ingest.AckWait, "a duration of at least 1s")
	check(c.Ingest.Consumer != "" && !strings.ContainsAny(c.Ingest.Consumer, ".*> "), "STEWARD_INGEST_CONSUMER", c.Ingest.Consumer, "a name without '.', '*', '>' or spaces")
	check(c.Stream.DedupeWindow >= time.Second, "STEWARD_DEDUPE_WINDOW", c.Stream.DedupeWindow, "a duration of at least 1s")
	check(c.Stream.DeadLetterMaxAge >= time.Hour, "STEWARD_DLQ_MAX_AGE", c.Stream.DeadLetterMaxAge, "a duration of at least 1h")
	check(c.Stream.Replicas == 1 || c.Stream.Replicas == 3 || c.Stream.Replicas == 5, "STEWARD_STREAM_REPLICAS", c.Stream.Replicas, "1, 3 or 5")
	check(c.Mongo.Database != "" && !strings.ContainsAny(c.Mongo.Database, "/\\. \"$"), "STEWARD_MONGODB_DATABASE", c.Mongo.Database, "a MongoDB database name")
	check(c.Mongo.Timeout >= time.Second, "STEWARD_MONGODB_TIMEOUT", c.Mongo.Timeout, "a duration of at least 1s")
	check(c.Log.Format == "auto" || c.Log.Format == "text" || c.Log.Format == "json", "STEWARD_LOG_FORMAT", c.Log.Format, "auto, text or json")
	check(validLevel(c.Log.Level), "STEWARD_LOG_LEVEL", c.Log.Level, "debug, info, warn or error")
	return errors.Join(errs...)
}

func validLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "warning", "error":
		return true
	}
	return false
}

// explain rewrites the env library's parse errors, which name Go fields,
// into errors that name the variable and the value.
func explain(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	tags := envTags(reflect.TypeOf(Config{}))
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if name, ok := tags[pe.Name]; ok {
				errs = append(errs, fmt.Errorf("%s=%q is invalid: want a value of type %s (%v)", name, os.Getenv(name), describe(pe.Type), pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func describe(t reflect.Type) string {
	if t == reflect.TypeOf(time.Duration(0)) {
		return "duration such as 500ms, 30s or 2h"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Bool:
		return "boolean"
	}
	return t.String()
}

// envTags maps each Go field name to its variable. Field names are unique
// across Config for this reason.
func envTags(t reflect.Type) map[string]string {
	out := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			for k, v := range envTags(f.Type) {
				out[k] = v
			}
			continue
		}
		if tag := f.Tag.Get("env"); tag != "" {
			out[f.Name] = tag
		}
	}
	return out
}

// IsSet reports whether the environment variable name is set, for programs
// whose behavior differs between a default and an explicit value.
func IsSet(name string) bool {
	_, ok := os.LookupEnv(name)
	return ok
}
