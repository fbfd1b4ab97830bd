package client

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
)

// Config configures a Client. URL and App are required, and either UserID
// or IdentityKey.
type Config struct {
	// URL is the NATS server URL, or several separated by commas.
	URL string
	// NATSOptions are applied to the connection first: credentials, TLS, a
	// connection name, ReconnectWait. The client then sets
	// MaxReconnects(-1), RetryOnFailedConnect(true), ReconnectBufSize(-1),
	// CustomInboxPrefix(InboxPrefix) and the connection's event handlers,
	// which therefore cannot be replaced.
	NATSOptions []nats.Option
	// InboxPrefix is the prefix of the reply subjects on which the stream's
	// acknowledgements arrive. Default "_INBOX_<user id>", the only inbox
	// that Steward's nats.conf lets a desktop user subscribe to. "_INBOX"
	// is the NATS default, which Steward's own programs use.
	InboxPrefix string

	// App names the app in session.started events and in the default
	// directories: 1 to 64 of letters, digits, '.', '-' and '_', starting
	// with a letter or digit.
	App string
	// AppVersion is sent in session.started events.
	AppVersion string

	// UserID is the user's id in the app's own account system. It must be
	// a valid Steward user id: 1 to 128 of letters, digits, '-' and '_'.
	// Empty means a pseudonymous id derived on this machine (see package
	// identity), which needs IdentityKey.
	UserID string
	// IdentityKey is the app's secret HMAC key for the derived user id, at
	// least 16 bytes, fixed for the life of the app.
	IdentityKey []byte
	// IdentityDir is the directory of install.json. Default os.UserConfigDir()/<App>.
	IdentityDir string

	// Outbox configures the on-disk outbox. Outbox.Dir defaults to
	// <user data directory>/<App>/steward-outbox: $XDG_DATA_HOME or
	// ~/.local/share on Linux, ~/Library/Application Support on macOS,
	// %LocalAppData% on Windows. The other fields keep the outbox package's
	// defaults: 100,000 events, 64 MiB and an fsync before Record returns.
	Outbox outbox.Config

	// MaxEventBytes is the largest event Record accepts, in bytes, its
	// encoded body and its NATS headers together. Default
	// DefaultMaxEventBytes; with another STEWARD_MAX_PAYLOAD on the ingest
	// workers, set it to that value minus 4096. Events are also checked
	// against the NATS server's max payload once the client has connected.
	MaxEventBytes int
	// MaxInFlight is the max number of events published and not yet
	// acknowledged. Default 256. At most 8 MiB of events are in flight
	// regardless.
	MaxInFlight int
	// AckTimeout is how long the client waits for the stream's
	// acknowledgement of one event before it sends it again. Default 10s.
	AckTimeout time.Duration
	// MaxRetryWait is the longest pause between attempts while publishes
	// fail; pauses start at 100ms and double. Default 10s.
	MaxRetryWait time.Duration

	// OnAck, when set, is called once for every event the stream
	// acknowledged, in record order, from the client's publishing
	// goroutine. It must return quickly and must not call Flush or Close,
	// which wait for that goroutine.
	OnAck func(Ack)
	// OnError, when set, receives errors that happen after Record
	// returned: a *PublishError for a failed publish, and asynchronous
	// errors of the NATS connection. The rules of OnAck apply.
	OnError func(error)
	// Logger receives the client's log records. Nil discards them.
	Logger *slog.Logger
	// Now returns the time put into events. Default time.Now.
	Now func() time.Time
}

// Ack describes an event the stream acknowledged.
type Ack struct {
	EventID   string
	SessionID string
	// Stream and Sequence are the stream's name and the event's sequence
	// in it.
	Stream   string
	Sequence uint64
	// Duplicate is set when the stream already had the event, for example
	// because it was sent again after a crash.
	Duplicate bool
}

// DefaultMaxEventBytes is the default Config.MaxEventBytes: the max message
// size of the events stream that ingest creates with its default
// STEWARD_MAX_PAYLOAD of 1 MiB. The stream keeps 4 KiB of the payload free
// for the headers that a dead letter adds.
const DefaultMaxEventBytes = events.DefaultMaxBytes - 4096

const maxInFlightBytes = 8 << 20

var appNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// setDefaults fills in defaults and validates c.
func (c *Config) setDefaults() error {
	var errs []error

	if c.URL == "" {
		errs = append(errs, errors.New("URL is empty: set it to the NATS server URL, for example nats://127.0.0.1:4222"))
	}
	if !appNamePattern.MatchString(c.App) {
		errs = append(errs, fmt.Errorf("App %q is invalid: use 1 to 64 letters, digits, '.', '-' and '_', starting with a letter or digit", c.App))
	}
	if c.UserID != "" {
		if _, err := scope.ParseUser(c.UserID); err != nil {
			errs = append(errs, fmt.Errorf("UserID: %w", err))
		}
	} else if len(c.IdentityKey) == 0 {
		errs = append(errs, errors.New("UserID and IdentityKey are both empty: set UserID to the user's account id, or IdentityKey to a fixed secret of at least 16 random bytes for a derived id"))
	}

	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}

	if c.MaxEventBytes < 1024 {
		errs = append(errs, fmt.Errorf("MaxEventBytes is %d: set at least 1024, or 0 for %d", c.MaxEventBytes, DefaultMaxEventBytes))
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 4096 {
		errs = append(errs, fmt.Errorf("MaxInFlight is %d: set 1 to 4096, or 0 for 256", c.MaxInFlight))
	}
	if c.AckTimeout < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("AckTimeout is %v: set at least 10ms, or 0 for 10s", c.AckTimeout))
	}
	if c.MaxRetryWait < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("MaxRetryWait is %v: set at least 10ms, or 0 for 10s", c.MaxRetryWait))
	}

	if c.Outbox.Dir == "" && len(errs) == 0 {
		dir, err := defaultDataDir()
		if err != nil {
			errs = append(errs, fmt.Errorf("find the user's data directory for the outbox: %w; set Outbox.Dir", err))
		}
		c.Outbox.Dir = filepath.Join(dir, c.App, "steward-outbox")
	}
	if c.Outbox.MaxBytes == 0 {
		c.Outbox.MaxBytes = 64 << 20
	}
	// An event is stored with its subject, message id and a record header.
	if need := int64(c.MaxEventBytes) + 1024; c.Outbox.MaxBytes < need {
		errs = append(errs, fmt.Errorf("Outbox.MaxBytes is %d: set at least MaxEventBytes + 1024 (%d), so the largest event fits", c.Outbox.MaxBytes, need))
	}
	if c.Outbox.Logger == nil {
		c.Outbox.Logger = c.Logger
	}

	if len(errs) > 0 {
		return fmt.Errorf("invalid client configuration: %w", errors.Join(errs...))
	}
	return nil
}

// defaultDataDir returns the base directory for per-user application data
// that stays on this machine.
func defaultDataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if dir := os.Getenv("LocalAppData"); dir != "" {
			return dir, nil
		}
		return "", errors.New("%LocalAppData% is not set")
	case "darwin", "ios":
		// ~/Library/Application Support
		return os.UserConfigDir()
	default:
		if dir := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
			return dir, nil
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, ".local", "share"), nil
	}
}
