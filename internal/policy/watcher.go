package policy

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is the interval at which Run calls Reload when it is
// given an interval of 0 or less.
const DefaultPollInterval = 10 * time.Second

// Watcher serves the current policy of a file and reloads it when the file
// changes, so a running program picks up an edit without a restart. A broken
// edit leaves the last good policy in place.
type Watcher struct {
	path   string
	logger *slog.Logger

	current atomic.Pointer[Policy]

	mu sync.Mutex // serializes Reload and guards the fields below
	// sum is the SHA-256 of the file content that Reload parsed last,
	// whether or not that content was valid.
	sum [sha256.Size]byte
	// lastErr is the error of the last Reload, nil after a success. Reload
	// logs an error only when it differs from lastErr, so a file that stays
	// broken is logged once rather than on every poll.
	lastErr error
}

// NewWatcher loads the policy file at path and returns a Watcher that serves
// it. It returns an error if that first load fails. With an empty path the
// Watcher serves Default and never reloads. A nil logger discards the log.
func NewWatcher(path string, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{path: path, logger: logger}

	if path == "" {
		p := Default()
		w.current.Store(p)
		w.logLoaded(p)
		return w, nil
	}

	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	p, warnings, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	w.sum = sha256.Sum256(data)
	w.current.Store(p)
	w.logWarnings(warnings)
	w.logLoaded(p)
	return w, nil
}

// Current returns the policy in force. It is safe for concurrent use and
// never returns nil. The Policy must not be modified.
func (w *Watcher) Current() *Policy {
	return w.current.Load()
}

// Reload reads the file again and, if its content differs from the content
// read last, parses it. It returns changed true when the new content gives a
// policy with another Version. On a read or parse error the last good policy
// stays current: Reload logs the error at Error level, once for as long as
// the error stays the same, and returns it. With an empty path Reload does
// nothing.
func (w *Watcher) Reload() (changed bool, err error) {
	if w.path == "" {
		return false, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()

	data, err := readFile(w.path)
	if err != nil {
		// Forget the content, so the same file restored later is parsed
		// again and its recovery is logged.
		w.sum = [sha256.Size]byte{}
		w.fail(err)
		return false, err
	}

	sum := sha256.Sum256(data)
	if sum == w.sum {
		// Same content as last time: the same policy, or the same error.
		return false, w.lastErr
	}
	w.sum = sum

	p, warnings, err := Parse(data, w.path)
	w.logWarnings(warnings)
	if err != nil {
		w.fail(err)
		return false, err
	}

	recovered := w.lastErr != nil
	w.lastErr = nil
	old := w.current.Load()
	if p.Version == old.Version {
		// Only formatting or unknown keys changed. Keep the old pointer, so
		// callers that compare policies see no change.
		if recovered {
			w.logLoaded(old)
		}
		return false, nil
	}
	w.current.Store(p)
	w.logLoaded(p)
	return true, nil
}

// Run calls Reload every interval until ctx is done. Reload logs its own
// errors, so Run continues after them. An interval of 0 or less means
// DefaultPollInterval. With an empty path Run only waits for ctx.
func (w *Watcher) Run(ctx context.Context, every time.Duration) {
	if w.path == "" {
		<-ctx.Done()
		return
	}
	if every <= 0 {
		every = DefaultPollInterval
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			_, _ = w.Reload()
		}
	}
}

// fail records err and logs it unless it repeats the last error.
func (w *Watcher) fail(err error) {
	if w.lastErr == nil || w.lastErr.Error() != err.Error() {
		w.logger.Error("policy reload failed, keeping the last good policy",
			"path", w.path, "version", w.current.Load().Version, "err", err)
	}
	w.lastErr = err
}

func (w *Watcher) logLoaded(p *Policy) {
	w.logger.Info("policy loaded",
		"path", p.Source,
		"version", p.Version,
		"types", p.Types(),
		"enabled", p.Enabled,
		"schedule", p.ScheduleSpec(),
		"time_zone", p.TimeZone)
}

// logWarnings logs unknown keys. Reload parses each distinct file content
// once, so each key is logged once per content rather than on every poll.
func (w *Watcher) logWarnings(keys []string) {
	for _, key := range keys {
		w.logger.Warn("unknown policy key ignored", "path", w.path, "key", key)
	}
}
