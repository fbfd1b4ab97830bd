package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Encode validates env and returns its JSON encoding and the subject to
// publish it on. A zero Time is set to the current time.
func Encode(env Envelope, maxBytes int) (body []byte, subject string, err error) {
	if env.SpecVersion == "" {
		env.SpecVersion = SpecVersion
	}
	if env.Time == "" {
		env.Time = time.Now().UTC().Format(time.RFC3339Nano)
	}
	body, err = json.Marshal(env)
	if err != nil {
		return nil, "", fmt.Errorf("encode event %s: %w", env.ID, err)
	}
	ev, err := Decode("", body, maxBytes)
	if err != nil {
		return nil, "", err
	}
	return body, Subject(ev.User, ev.Session, ev.Kind, ev.Type), nil
}
