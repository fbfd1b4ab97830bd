package events_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stewardhq/steward/internal/events"
)

const validRecord = `{"spec_version":"1","id":"e1","kind":"record","user_id":"u1","session_id":"s1","type":"winston_logs","time":"2026-12-04T20:32:51.650+01:00","data":{"level":"info"}}`

func TestDecodeValid(t *testing.T) {
	ev, err := events.Decode("steward.events.u1.s1.record.winston_logs", []byte(validRecord), 0)
	if err != nil {
		t.Fatalf("Decode: got %v, want no error", err)
	}
	if ev.User != "u1" || ev.Session != "s1" || ev.ID != "e1" || ev.Type != "winston_logs" {
		t.Fatalf("ids: got %+v, want u1/s1/e1/winston_logs", ev)
	}
	if got, want := ev.ClientTime.String(), "2026-12-04 19:32:51.65 +0000 UTC"; got != want {
		t.Fatalf("client time: got %s, want %s", got, want)
	}
	if got, want := ev.DocID(), "u1:e1"; got != want {
		t.Fatalf("DocID: got %q, want %q", got, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	edit := func(from, to string) string { return strings.Replace(validRecord, from, to, 1) }
	tests := []struct {
		name    string
		subject string
		body    string
		want    events.Reason
	}{
		{"not json", "", `{"spec_version":`, events.ReasonMalformed},
		{"array", "", `[1,2]`, events.ReasonMalformed},
		{"invalid utf8", "", edit(`"info"`, "\"\xff\""), events.ReasonMalformed},
		{"missing version", "", edit(`"spec_version":"1",`, ""), events.ReasonMissingField},
		{"unknown version", "", edit(`"spec_version":"1"`, `"spec_version":"9"`), events.ReasonBadVersion},
		{"missing id", "", edit(`"id":"e1",`, ""), events.ReasonMissingField},
		{"bad id", "", edit(`"id":"e1"`, `"id":"e 1"`), events.ReasonInvalidID},
		{"unknown kind", "", edit(`"kind":"record"`, `"kind":"log"`), events.ReasonUnknownKind},
		{"user with dot", "", edit(`"user_id":"u1"`, `"user_id":"u.1"`), events.ReasonInvalidID},
		{"session too long", "", edit(`"session_id":"s1"`, `"session_id":"`+strings.Repeat("s", 129)+`"`), events.ReasonInvalidID},
		{"type not a collection name", "", edit(`"type":"winston_logs"`, `"type":"Logs.x"`), events.ReasonInvalidType},
		{"reserved type", "", edit(`"type":"winston_logs"`, `"type":"sessions"`), events.ReasonInvalidType},
		{"record without type", "", edit(`"type":"winston_logs",`, ""), events.ReasonMissingField},
		{"record without data", "", edit(`,"data":{"level":"info"}`, ""), events.ReasonMissingField},
		{"data not object", "", edit(`{"level":"info"}`, `"text"`), events.ReasonInvalidData},
		{"bad time", "", edit(`2026-12-04T20:32:51.650+01:00`, `04/12/2026`), events.ReasonInvalidTime},
		{"too deep", "", edit(`{"level":"info"}`, strings.Repeat(`{"a":`, 70)+"1"+strings.Repeat("}", 70)), events.ReasonInvalidData},
		{"id not a string", "", edit(`"id":"e1"`, `"id":1`), events.ReasonMalformed},
		{"trailing data", "", validRecord + `{}`, events.ReasonMalformed},
		{"truncated data", "", strings.TrimSuffix(validRecord, `}}`), events.ReasonMalformed},
		{"data array", "", edit(`{"level":"info"}`, `[1]`), events.ReasonInvalidData},
		{"subject user differs", "steward.events.u2.s1.record.winston_logs", validRecord, events.ReasonSubjectMismatch},
		{"subject type differs", "steward.events.u1.s1.record.generated_scripts", validRecord, events.ReasonSubjectMismatch},
		{"subject kind differs", "steward.events.u1.s1.session.started", validRecord, events.ReasonSubjectMismatch},
		{"subject short", "steward.events.u1", validRecord, events.ReasonSubjectMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.Decode(tt.subject, []byte(tt.body), 0)
			got, ok := events.ReasonOf(err)
			if !ok || got != tt.want {
				t.Fatalf("Decode: got %v, want reason %s", err, tt.want)
			}
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	_, err := events.Decode("", []byte(validRecord), 10)
	if r, _ := events.ReasonOf(err); r != events.ReasonTooLarge {
		t.Fatalf("Decode with limit 10: got %v, want %s", err, events.ReasonTooLarge)
	}
	if !strings.Contains(err.Error(), "10 bytes") {
		t.Fatalf("message %q does not name the limit", err)
	}
}

func TestDataRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"dotted keys", `{"http.status_code":504,"service.version":"1.0.0"}`},
		{"dollar and percent keys", `{"$set":1,"a$":2,"100%":"x","%2E":"y","%num":3}`},
		{"nul in key", `{"a\u0000b":1}`},
		{"big integers", `{"max":9223372036854775807,"over":9223372036854775808,"huge":123456789012345678901234567890,"neg":-9007199254740993}`},
		{"floats", `{"a":0.1,"b":-2.5e-8,"c":1.7976931348623157e+308,"d":0.30000000000000004}`},
		{"inexact floats", `{"a":0.10000000000000000001,"b":1e400,"c":1e-400,"d":123456789.123456789}`},
		{"nested", `{"a":{"b.c":[1,{"$d":null},true,"x"]},"e":[]}`},
		{"unicode", `{"naïve key":"日本"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, err := events.EncodeData([]byte(tt.in))
			if err != nil {
				t.Fatalf("EncodeData: %v", err)
			}
			out, err := events.DecodeData(stored)
			if err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			if !sameJSON(t, tt.in, string(out)) {
				t.Fatalf("round trip: got %s, want %s", out, tt.in)
			}
		})
	}
}

// sameJSON compares two JSON texts key by key with numbers as exact decimal
// text, so a rounded number is a difference.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	norm := func(s string) string {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", s, err)
		}
		out, _ := json.Marshal(v)
		return string(out)
	}
	return norm(a) == norm(b)
}

func TestEscapedKeysAreStorable(t *testing.T) {
	stored, err := events.EncodeData([]byte(`{"a.b":{"$c":1},"%":2}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(stored)
	for _, bad := range []string{`"a.b"`, `"$c"`} {
		if strings.Contains(string(out), bad) {
			t.Fatalf("stored form %s still contains key %s", out, bad)
		}
	}
}

func TestEncodeSubject(t *testing.T) {
	body, subject, err := events.Encode(events.Envelope{ID: "e1", Kind: events.KindSessionStarted, UserID: "u1", SessionID: "s1", Data: json.RawMessage(`{"app_name":"a"}`)}, 0)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if want := "steward.events.u1.s1.session.started"; subject != want {
		t.Fatalf("subject: got %q, want %q", subject, want)
	}
	if _, err := events.Decode(subject, body, 0); err != nil {
		t.Fatalf("Decode of encoded event: %v", err)
	}
}

func TestDecodeLenientParts(t *testing.T) {
	body := strings.Replace(validRecord, `"data":{"level":"info"}`, `"future_field":{"x":[1,2]},"data":{"a":1,"a":2}`, 1)
	ev, err := events.Decode("", []byte(body), 0)
	if err != nil {
		t.Fatalf("Decode with an unknown field and a repeated key: got %v, want no error", err)
	}
	out, _ := events.DecodeData(ev.Data)
	if string(out) != `{"a":2}` {
		t.Fatalf("repeated key: got %s, want the last value {\"a\":2}", out)
	}
	session := `{"spec_version":"1","id":"e2","kind":"session.ended","user_id":"u1","session_id":"s1","time":"2026-12-04T19:32:51Z","data":null}`
	if _, err := events.Decode("", []byte(session), 0); err != nil {
		t.Fatalf("session event with null data: got %v, want no error", err)
	}
}
