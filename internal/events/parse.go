package events

import (
	"bytes"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// parsedEnvelope is an envelope read in one pass, with its payload already
// converted for storage.
type parsedEnvelope struct {
	Envelope
	data any // nil when the event has no payload or a null one
}

// parseEnvelope reads the envelope fields and converts the payload in one
// pass over body. Unknown top-level fields are skipped, so newer clients
// can add fields without breaking older servers.
func parseEnvelope(body []byte) (*parsedEnvelope, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	tok, err := dec.ReadToken()
	if err != nil || tok.Kind() != '{' {
		return nil, Reject(ReasonMalformed, "event is not a JSON object")
	}
	env := &parsedEnvelope{}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, malformed(err)
		}
		field := name.String()
		var target *string
		switch field {
		case "spec_version":
			target = &env.SpecVersion
		case "id":
			target = &env.ID
		case "kind":
			target = (*string)(&env.Kind)
		case "user_id":
			target = &env.UserID
		case "session_id":
			target = &env.SessionID
		case "type":
			target = &env.Type
		case "time":
			target = &env.Time
		case "data":
			if err := readData(dec, env); err != nil {
				return nil, err
			}
			continue
		default:
			if err := dec.SkipValue(); err != nil {
				return nil, malformed(err)
			}
			continue
		}
		value, err := dec.ReadToken()
		if err != nil {
			return nil, malformed(err)
		}
		if value.Kind() != '"' {
			return nil, Reject(ReasonMalformed, "field %s must be a JSON string, got %s", field, value.Kind())
		}
		*target = value.String()
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, Reject(ReasonMalformed, "unexpected data after the event's JSON object")
	}
	return env, nil
}

func readData(dec *jsontext.Decoder, env *parsedEnvelope) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		return malformed(err)
	case '{':
		data, err := decodeValue(dec, 0)
		if err != nil {
			var syntax *jsontext.SyntacticError
			if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
				return malformed(err)
			}
			return Reject(ReasonInvalidData, "data: %v", err)
		}
		env.data = data
		return nil
	case 0:
		_, err := dec.ReadToken()
		return malformed(err)
	default:
		return Reject(ReasonInvalidData, "data must be a JSON object, got a JSON %s", dec.PeekKind())
	}
}

// malformed wraps a JSON syntax error; it returns nil for nil.
func malformed(err error) error {
	if err == nil {
		return nil
	}
	return Reject(ReasonMalformed, "event is not valid JSON: %v", err)
}
