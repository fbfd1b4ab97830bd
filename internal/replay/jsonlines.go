package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// JSONLines writes each event as one line of JSON:
//
//	{"seq":12,"time":"2026-12-04T19:32:51.650123Z","subject":"steward.events.u1.s1.record.winston_logs","event":{...}}
//
// where "event" is the original envelope, byte for byte. Two exceptions
// keep every line valid JSON on one line: an envelope with line breaks is
// compacted, and a body that is not JSON at all is written as
// "raw_base64" in place of "event".
type JSONLines struct {
	w *bufio.Writer
}

// NewJSONLines returns a sink that writes to w.
func NewJSONLines(w io.Writer) *JSONLines {
	return &JSONLines{w: bufio.NewWriterSize(w, 64<<10)}
}

// Add writes one line.
func (j *JSONLines) Add(_ context.Context, ev Event) error {
	var line bytes.Buffer
	line.WriteString(`{"seq":`)
	line.WriteString(strconv.FormatUint(ev.Seq, 10))
	line.WriteString(`,"time":"`)
	line.WriteString(ev.Time.UTC().Format(time.RFC3339Nano))
	line.WriteString(`","subject":`)
	subject, _ := json.Marshal(ev.Subject) // a string always encodes
	line.Write(subject)
	switch {
	case !json.Valid(ev.Data):
		line.WriteString(`,"raw_base64":"`)
		line.WriteString(base64.StdEncoding.EncodeToString(ev.Data))
		line.WriteString(`"`)
	case bytes.ContainsAny(ev.Data, "\r\n"):
		line.WriteString(`,"event":`)
		if err := json.Compact(&line, ev.Data); err != nil {
			return fmt.Errorf("compact event %d: %w", ev.Seq, err)
		}
	default:
		line.WriteString(`,"event":`)
		line.Write(ev.Data)
	}
	line.WriteString("}\n")
	if _, err := j.w.Write(line.Bytes()); err != nil {
		return fmt.Errorf("write event %d: %w", ev.Seq, err)
	}
	return nil
}

// Flush writes what is buffered.
func (j *JSONLines) Flush(context.Context) error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

var _ Sink = (*JSONLines)(nil)
