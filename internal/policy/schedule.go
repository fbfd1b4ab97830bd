package policy

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// The checks in this file follow the schedule syntax of nats-server message
// schedules, as server/scheduler.go and server/cron.go of nats-server 2.15.3
// (the version in go.mod) parse it, so that a schedule that passes here is
// one the server accepts. TestScheduleMatchesNATSServer checks this by
// publishing each tested schedule to an embedded nats-server.

// predefinedSchedules are the named schedules that nats-server accepts in
// place of a cron expression. It matches them case-sensitively.
var predefinedSchedules = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// cronField describes one field of a six-field cron expression.
type cronField struct {
	name     string
	min, max int
	names    map[string]int // three-letter names, lower case
}

var cronFields = [6]cronField{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}},
	{name: "day-of-week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}},
}

// Indexes into cronFields.
const (
	fieldSecond = iota
	fieldMinute
	fieldHour
	fieldDayOfMonth
	fieldMonth
	fieldDayOfWeek
)

// maxDayOfMonth is the last day of each month, counting February 29.
var maxDayOfMonth = [13]int{1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}

// checkSchedule returns an error unless expr is a predefined schedule or a
// six-field cron expression that nats-server accepts, and that fires at most
// once a minute. The error states what to change but not the key or value,
// which the caller adds.
func checkSchedule(expr string) error {
	for _, name := range predefinedSchedules {
		if expr == name {
			return nil
		}
	}
	if strings.HasPrefix(expr, "@every") || strings.HasPrefix(expr, "@at") {
		return errors.New("want a cron expression; set sessionCleanup.cleanupInterval for a fixed interval instead")
	}
	if strings.HasPrefix(expr, "@") {
		return fmt.Errorf("want a cron expression or one of %s", strings.Join(predefinedSchedules, ", "))
	}

	fields := strings.Fields(expr)
	if len(fields) != len(cronFields) {
		msg := fmt.Sprintf("want 6 fields (second minute hour day-of-month month day-of-week) but it has %d", len(fields))
		if len(fields) == 5 {
			// A five-field expression is most likely classic cron, which
			// has no second field.
			msg += fmt.Sprintf("; to fire at second 0 of the same minutes, write %q", "0 "+strings.Join(fields, " "))
		}
		return errors.New(msg)
	}

	var sets [6]uint64
	var stars [6]bool
	for i, text := range fields {
		set, star, err := parseCronField(text, cronFields[i])
		if err != nil {
			return fmt.Errorf("%s field %q: %w", cronFields[i].name, text, err)
		}
		sets[i], stars[i] = set, star
	}

	if bits.OnesCount64(sets[fieldSecond]) != 1 {
		return fmt.Errorf("second field %q fires more than once a minute; set it to a single second such as 0", fields[fieldSecond])
	}
	if !firesOnSomeDay(sets, stars) {
		return fmt.Errorf("it never fires, because no month in %q has a day in %q; change the day-of-month or month field",
			fields[fieldMonth], fields[fieldDayOfMonth])
	}
	return nil
}

// parseCronField returns the set of values that a cron field selects, as a
// bit mask, and whether the field contains "*" or "?" with a step of 1. A
// field is a comma-separated list of items. An item is "*", "?", a value or
// a range "a-b" of values, optionally followed by "/step". A value followed
// by a step ("5/15") stands for the range from the value to the maximum.
func parseCronField(text string, f cronField) (set uint64, star bool, err error) {
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return 0, false, errors.New("empty list item; remove the extra comma")
		}
		rangeText, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			step, err = strconv.Atoi(stepText)
			if err != nil || step < 1 {
				return 0, false, fmt.Errorf("step %q is not a whole number of at least 1", stepText)
			}
		}

		var low, high int
		if rangeText == "*" || rangeText == "?" {
			low, high = f.min, f.max
			star = star || step == 1
		} else {
			lowText, highText, isRange := strings.Cut(rangeText, "-")
			if low, err = parseCronValue(lowText, f); err != nil {
				return 0, false, err
			}
			switch {
			case isRange:
				if high, err = parseCronValue(highText, f); err != nil {
					return 0, false, err
				}
			case hasStep:
				high = f.max
			default:
				high = low
			}
		}
		if low > high {
			return 0, false, fmt.Errorf("range %q starts after it ends", item)
		}
		for v := low; v <= high; v += step {
			set |= 1 << v
		}
	}
	return set, star, nil
}

// parseCronValue parses a number or a three-letter name and checks it
// against the bounds of the field.
func parseCronValue(text string, f cronField) (int, error) {
	if v, ok := f.names[strings.ToLower(text)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil || text == "" || text[0] < '0' || text[0] > '9' {
		return 0, fmt.Errorf("value %q is not a number from %d to %d", text, f.min, f.max)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("value %d is outside %d to %d", v, f.min, f.max)
	}
	return v, nil
}

// firesOnSomeDay reports whether the day fields select at least one real
// date. Like nats-server and classic cron, a cron expression matches a day
// when day-of-month or day-of-week matches, unless either field contains
// "*": then both must match. Only a "*" day-of-week with a day-of-month
// that none of the selected months has, such as "30 2", selects no date.
func firesOnSomeDay(sets [6]uint64, stars [6]bool) bool {
	if stars[fieldDayOfMonth] || !stars[fieldDayOfWeek] {
		return true
	}
	for month := 1; month <= 12; month++ {
		if sets[fieldMonth]&(1<<month) == 0 {
			continue
		}
		for d := 1; d <= maxDayOfMonth[month]; d++ {
			if sets[fieldDayOfMonth]&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

// checkTimeZone returns an error unless name is an IANA time zone name known
// to this machine's time zone database.
//
// NOTE: nats-server loads the zone again from its own time zone database.
// A zone that is in only one of the two databases passes here and fails on
// publish, or the other way round.
func checkTimeZone(name string) error {
	const want = `want an IANA time zone name such as "Europe/Berlin" or "UTC"`
	if name == "Local" {
		// time.LoadLocation accepts "Local" as the zone of the machine
		// that runs the program, which differs between machines.
		return errors.New(want + `, not "Local"`)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return errors.New(want)
	}
	return nil
}
