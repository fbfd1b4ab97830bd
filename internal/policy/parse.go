package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Keys of session-config.json. The desktop app defines the first four, and
// they keep their names.
const (
	keySessionCleanup  = "sessionCleanup"
	keyEnabled         = "enabled"
	keyRetention       = "retentionPeriods"
	keyInterval        = "cleanupInterval"
	keySchedule        = "cleanupSchedule"
	keyTimeZone        = "timeZone"
	keyDeleteBatchSize = "deleteBatchSize"
)

// MaxFileSize is the largest policy file Load and Watcher read, in bytes. A
// retention policy takes a few hundred bytes, so a larger file is most
// likely the wrong file.
const MaxFileSize = 1 << 20

// maxDeleteBatchSize keeps deleteBatchSize an int on 32-bit platforms too.
const maxDeleteBatchSize = math.MaxInt32

// ErrInvalid is matched by every error about the content of a policy file,
// so callers can tell it from a file that cannot be read.
var ErrInvalid = errors.New("invalid retention policy")

// problem is one thing wrong with a policy file. Parse joins all problems
// into its error.
type problem string

func (p problem) Error() string { return string(p) }

func (p problem) Is(target error) bool { return target == ErrInvalid }

// Load reads and parses the policy file at path. An empty path returns
// Default. The warnings are the key paths of unknown keys, such as
// "sessionCleanup.colour", which the caller should log.
func Load(path string) (*Policy, []string, error) {
	if path == "" {
		return Default(), nil, nil
	}
	data, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Parse(data, path)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read policy %s: file is larger than %d bytes, too large for a retention policy; check the path", path, MaxFileSize)
	}
	return data, nil
}

// Parse parses and validates a policy in the session-config.json format.
// Source, usually the file path, names the input in errors and becomes
// Policy.Source. Parse reports every problem it finds in one error, which
// matches ErrInvalid, and returns a nil Policy with it. The warnings are the
// key paths of unknown keys and are returned with or without an error.
func Parse(data []byte, source string) (p *Policy, warnings []string, err error) {
	var ps parser
	p = ps.parse(data)
	p.Source = source
	if len(ps.problems) > 0 {
		where := "parse policy"
		if source != "" {
			where += " " + source
		}
		return nil, ps.warnings, fmt.Errorf("%s: %w", where, errors.Join(ps.problems...))
	}
	p.Version = p.computeVersion()
	return p, ps.warnings, nil
}

// parser collects the problems and warnings of one Parse call.
type parser struct {
	problems []error
	warnings []string
}

func (ps *parser) invalid(key, format string, args ...any) {
	ps.problems = append(ps.problems, problem(key+": "+fmt.Sprintf(format, args...)))
}

// parse returns the policy that data describes, with defaults for absent
// keys. The result is meaningful only if no problem was recorded.
func (ps *parser) parse(data []byte) *Policy {
	p := defaults()

	// Editors on Windows may start a UTF-8 file with a byte order mark,
	// which encoding/json rejects.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		ps.problems = append(ps.problems, problem(`file is empty, want a JSON object such as {"sessionCleanup": {"enabled": true, "retentionPeriods": {"winston_logs": 90}, "cleanupInterval": 24}}`))
		return p
	}
	// Unmarshal checks the syntax of the whole input before it copies it
	// into a RawMessage, and its SyntaxError carries the offset.
	var syntaxCheck json.RawMessage
	if err := json.Unmarshal(data, &syntaxCheck); err != nil {
		ps.problems = append(ps.problems, problem(describeSyntaxError(data, err)))
		return p
	}

	top, ok := ps.object("", data)
	if !ok {
		return p
	}
	cleanup, found := top[keySessionCleanup]
	for _, key := range sortedKeys(top) {
		if key != keySessionCleanup {
			ps.warnings = append(ps.warnings, key)
		}
	}
	if !found {
		ps.invalid(keySessionCleanup, `missing, want an object such as {"enabled": true, "retentionPeriods": {"winston_logs": 90}, "cleanupInterval": 24}`)
		return p
	}
	ps.parseSessionCleanup(p, cleanup)
	return p
}

func (ps *parser) parseSessionCleanup(p *Policy, raw json.RawMessage) {
	members, ok := ps.object(keySessionCleanup, raw)
	if !ok {
		return
	}
	path := func(key string) string { return keySessionCleanup + "." + key }

	scheduleGiven := false
	for _, key := range sortedKeys(members) {
		value := members[key]
		switch key {
		case keyEnabled:
			if err := json.Unmarshal(value, &p.Enabled); err != nil || isNull(value) {
				ps.invalid(path(key), "got %s, want true or false", show(value))
			}
		case keyRetention:
			p.Retention = ps.parseRetention(value)
		case keyInterval:
			p.Interval = ps.parseInterval(path(key), value)
		case keySchedule:
			p.Schedule, scheduleGiven = ps.parseSchedule(path(key), value)
		case keyTimeZone:
			p.TimeZone = ps.parseTimeZone(path(key), value)
		case keyDeleteBatchSize:
			p.DeleteBatchSize = ps.parseDeleteBatchSize(path(key), value)
		default:
			ps.warnings = append(ps.warnings, path(key))
		}
	}

	// An invalid schedule has its own problem, so only a missing or empty
	// one makes the time zone a problem too.
	if p.TimeZone != "" && !scheduleGiven {
		ps.invalid(path(keyTimeZone), "got %q without %s, the only setting it applies to; set %s or remove %s",
			p.TimeZone, path(keySchedule), keySchedule, keyTimeZone)
	}
}

func (ps *parser) parseRetention(raw json.RawMessage) map[string]time.Duration {
	key := keySessionCleanup + "." + keyRetention
	members, ok := ps.object(key, raw)
	if !ok {
		return nil
	}
	if len(members) == 0 {
		ps.invalid(key, `got {}, want at least one data type with its retention period in days, such as {"winston_logs": 90}`)
		return nil
	}

	maxDays := int64(math.MaxInt64 / int64(day))
	retention := make(map[string]time.Duration, len(members))
	for _, name := range sortedKeys(members) {
		value := members[name]
		if err := ValidDataType(name); err != nil {
			ps.invalid(key, "%v", err)
			continue
		}
		days, ok := number(value)
		if !ok || days <= 0 {
			ps.invalid(key+"."+name, "got %s, want a positive number of days", show(value))
			continue
		}
		d, ok := toDuration(days, day)
		if !ok {
			ps.invalid(key+"."+name, "got %s, want at most %d days", show(value), maxDays)
			continue
		}
		if d <= 0 {
			ps.invalid(key+"."+name, "got %s, which rounds to 0 nanoseconds; want a positive number of days", show(value))
			continue
		}
		retention[name] = d
	}
	return retention
}

func (ps *parser) parseInterval(key string, raw json.RawMessage) time.Duration {
	minHours := strconv.FormatFloat(MinInterval.Hours(), 'f', 4, 64)
	hours, ok := number(raw)
	if !ok || hours <= 0 {
		ps.invalid(key, "got %s, want a number of hours of at least %s (one minute)", show(raw), minHours)
		return 0
	}
	d, ok := toDuration(hours, time.Hour)
	if !ok {
		ps.invalid(key, "got %s, want at most %d hours", show(raw), int64(math.MaxInt64/int64(time.Hour)))
		return 0
	}
	if d < MinInterval {
		ps.invalid(key, "got %s (%v), want a number of hours of at least %s (one minute)", show(raw), d, minHours)
		return 0
	}
	return d
}

// parseSchedule returns the schedule and whether raw sets one, valid or
// not. An empty string sets none.
func (ps *parser) parseSchedule(key string, raw json.RawMessage) (string, bool) {
	var expr string
	if err := json.Unmarshal(raw, &expr); err != nil || isNull(raw) {
		ps.invalid(key, `got %s, want a cron expression string such as "0 0 3 * * *"`, show(raw))
		return "", true
	}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return "", false
	}
	if err := checkSchedule(expr); err != nil {
		ps.invalid(key, "got %q, %v", expr, err)
		return "", true
	}
	return expr, true
}

func (ps *parser) parseTimeZone(key string, raw json.RawMessage) string {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil || isNull(raw) {
		ps.invalid(key, `got %s, want an IANA time zone name such as "Europe/Berlin"`, show(raw))
		return ""
	}
	if name == "" {
		return ""
	}
	if err := checkTimeZone(name); err != nil {
		ps.invalid(key, "got %q, %v", name, err)
		return ""
	}
	return name
}

func (ps *parser) parseDeleteBatchSize(key string, raw json.RawMessage) int {
	n, ok := number(raw)
	if !ok || n < 0 || n != math.Trunc(n) {
		ps.invalid(key, "got %s, want a whole number of documents of at least 1, or 0 for the default", show(raw))
		return 0
	}
	if n > maxDeleteBatchSize {
		ps.invalid(key, "got %s, want at most %d", show(raw), maxDeleteBatchSize)
		return 0
	}
	return int(n)
}

// object decodes raw as a JSON object. It records a problem and returns
// false if raw is another JSON value or names a key more than once.
// encoding/json would silently keep the last of repeated keys, but in a
// deletion policy a repeated key is more likely a mistake than intended.
func (ps *parser) object(key string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if key == "" {
			ps.problems = append(ps.problems, problem(fmt.Sprintf("got %s, want a JSON object with a %q key", show(raw), keySessionCleanup)))
		} else {
			ps.invalid(key, "got %s, want a JSON object", show(raw))
		}
		return nil, false
	}

	members := make(map[string]json.RawMessage)
	duplicate := false
	for dec.More() {
		// raw passed a full json.Unmarshal already, so these calls fail
		// only on a bug. Record it as a problem rather than panic.
		tok, err := dec.Token()
		name, isString := tok.(string)
		var value json.RawMessage
		if err == nil && isString {
			err = dec.Decode(&value)
		}
		if err != nil || !isString {
			ps.invalid(key, "cannot decode the object: %v", err)
			return nil, false
		}
		if _, seen := members[name]; seen {
			ps.invalid(joinKey(key, name), "set more than once; keep one")
			duplicate = true
		}
		members[name] = value
	}
	return members, !duplicate
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// number parses raw as a finite JSON number. A quoted number is not one.
func number(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	// For a number too large for a float64, such as 1e400, ParseFloat
	// returns ±Inf with ErrRange, which the callers reject as too large.
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return v, true
}

func sortedKeys(m map[string]json.RawMessage) []string {
	return slices.Sorted(maps.Keys(m))
}

// toDuration converts v units to a duration rounded to the nearest
// nanosecond. It returns false if the result would overflow.
func toDuration(v float64, unit time.Duration) (time.Duration, bool) {
	nanos := math.Round(v * float64(unit))
	// float64(math.MaxInt64) rounds up to 2^63, which is itself too large.
	if nanos >= float64(math.MaxInt64) {
		return 0, false
	}
	return time.Duration(nanos), true
}

func isNull(raw json.RawMessage) bool {
	return string(raw) == "null"
}

// show formats a JSON value for an error message, compacted and cut to 60
// bytes.
func show(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	const maxLen = 60
	if buf.Len() > maxLen {
		return string(buf.Bytes()[:maxLen]) + "..."
	}
	return buf.String()
}

// describeSyntaxError turns a JSON syntax error into a message with the
// line and column (both counted from 1) and the byte offset (counted from 0)
// of the character that broke the syntax.
func describeSyntaxError(data []byte, err error) string {
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON: %v; fix the syntax", err)
	}
	// A SyntaxError at the end of the input can mean a bad last byte or
	// input that ends too early. Only the message, "unexpected end of JSON
	// input", tells them apart.
	if int(syntaxErr.Offset) >= len(data) && strings.Contains(err.Error(), "unexpected end") {
		line := 1 + bytes.Count(data, []byte("\n"))
		return fmt.Sprintf("invalid JSON at the end of the file (line %d): %v; close every object and string", line, err)
	}

	// Offset counts the bytes read up to and including the bad character.
	pos := min(max(int(syntaxErr.Offset)-1, 0), len(data))
	lineStart := bytes.LastIndexByte(data[:pos], '\n') + 1
	line := 1 + bytes.Count(data[:lineStart], []byte("\n"))
	column := 1 + utf8.RuneCount(data[lineStart:pos])
	return fmt.Sprintf("invalid JSON at line %d, column %d (byte offset %d): %v; fix the syntax there", line, column, pos, err)
}
