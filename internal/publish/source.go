// Package publish turns files into events and publishes them, for
// `steward publish`. A JSON-lines file becomes one event per line; any other
// file becomes one event holding its content. Event ids are derived from the
// input, so publishing the same input again adds no documents. Events are
// published through package client, with a temporary outbox.
package publish

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Item is one event's worth of input, or the reason it cannot be one.
type Item struct {
	// ID is the event id, derived from the source name, line and content.
	ID string
	// Origin names the input for messages, for example "app.log:12".
	Origin string
	// Time is the client time of the event.
	Time time.Time
	// Data is the payload, a JSON object.
	Data json.RawMessage
	// Err is set when the input cannot become an event.
	Err error
}

// Input is one file to publish.
type Input struct {
	// Path opens the file; "-" is standard input.
	Path string
	// Name identifies the file in event ids and payloads: the base name of
	// a file named on the command line, or for a file found in a directory
	// its path below the directory's parent, such as "scripts/a/index.js".
	// It does not depend on the working directory, so the same files
	// published from elsewhere get the same ids, while two files of the
	// same base name in different folders stay apart.
	Name string
}

// Expand returns the inputs named by args in order: "-" stays as is, a
// directory is replaced by the regular files below it in lexical order.
func Expand(args []string) ([]Input, error) {
	var out []Input
	for _, a := range args {
		if a == "-" {
			out = append(out, Input{Path: "-", Name: "stdin"})
			continue
		}
		info, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", a, err)
		}
		if !info.IsDir() {
			out = append(out, Input{Path: a, Name: filepath.Base(a)})
			continue
		}
		root := filepath.Dir(filepath.Clean(a))
		var files []Input
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, Input{Path: path, Name: filepath.ToSlash(rel)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read directory %s: %w", a, err)
		}
		slices.SortFunc(files, func(x, y Input) int { return strings.Compare(x.Path, y.Path) })
		out = append(out, files...)
	}
	return out, nil
}

// Read reads one input and calls emit for each event it yields. A file
// whose first non-blank line is a JSON object is read as JSON lines, one
// event per line, and any other file is one event. key goes into every
// event id next to the input's name, line and content. Callers pass the data
// type and session, so the same file published as another type or session
// gets new ids instead of counting as a duplicate. maxLine bounds the length
// of one JSON line.
func Read(in Input, key string, maxLine int, emit func(Item) error) error {
	var r io.Reader = os.Stdin
	modTime := time.Now()
	if in.Path != "-" {
		f, err := os.Open(in.Path)
		if err != nil {
			return fmt.Errorf("open %s: %w", in.Path, err)
		}
		defer f.Close()
		if info, err := f.Stat(); err == nil {
			modTime = info.ModTime()
		}
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	jsonLines, err := looksLikeJSONLines(br)
	if err != nil {
		return fmt.Errorf("read %s: %w", in.Path, err)
	}
	ids := idSource{key: key, name: in.Name}
	if jsonLines {
		return readLines(br, in.Name, ids, maxLine, emit)
	}
	return readWhole(br, in.Name, ids, modTime, emit)
}

// looksLikeJSONLines peeks at the first non-blank line: a JSON object there
// means the input is read as JSON lines.
func looksLikeJSONLines(br *bufio.Reader) (bool, error) {
	peek, err := br.Peek(br.Size())
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return false, err
	}
	peek = bytes.TrimLeft(peek, " \t\r\n")
	line, _, _ := bytes.Cut(peek, []byte("\n"))
	line = bytes.TrimSpace(line)
	return len(line) > 1 && line[0] == '{' && json.Valid(line), nil
}

func readLines(br *bufio.Reader, name string, ids idSource, maxLine int, emit func(Item) error) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), maxLine+1)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		it := Item{ID: ids.derive(n, line), Origin: name + ":" + strconv.Itoa(n), Time: time.Now()}
		if !json.Valid(line) || line[0] != '{' {
			it.Err = fmt.Errorf("line is not a JSON object")
		} else {
			it.Data = json.RawMessage(bytes.Clone(line))
			it.Time = lineTime(line, it.Time)
		}
		if err := emit(it); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return fmt.Errorf("read %s: a line is longer than %d bytes, the max payload", name, maxLine)
		}
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// lineTime returns the "timestamp" or "time" field of a log line when it is
// RFC 3339, as winston and most JSON loggers write it.
func lineTime(line []byte, fallback time.Time) time.Time {
	var fields struct {
		Timestamp string `json:"timestamp"`
		Time      string `json:"time"`
	}
	if json.Unmarshal(line, &fields) != nil {
		return fallback
	}
	for _, s := range []string{fields.Timestamp, fields.Time} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return fallback
}

// readWhole makes one event of a whole input: its name, size and content,
// as text when it is UTF-8 and as base64 otherwise.
func readWhole(r io.Reader, name string, ids idSource, modTime time.Time, emit func(Item) error) error {
	content, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	payload := map[string]any{"file_name": name, "size": len(content)}
	if utf8.Valid(content) {
		payload["content"] = string(content)
	} else {
		payload["content_base64"] = base64.StdEncoding.EncodeToString(content)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return emit(Item{ID: ids.derive(0, content), Origin: name, Time: modTime, Data: data})
}

// idSource derives stable event ids for one input.
type idSource struct {
	key  string // data type and session, from the caller
	name string // Input.Name
}

// derive returns the event id of line n (0 for a whole file) with the
// given content.
func (s idSource) derive(n int, content []byte) string {
	h := sha256.New()
	for _, part := range []string{s.key, s.name, strconv.Itoa(n)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
