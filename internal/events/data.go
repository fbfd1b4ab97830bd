package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxDataDepth is the deepest nesting of objects and arrays a payload may
// have. MongoDB allows 100 levels per document and a stored event wraps its
// payload in one more.
const MaxDataDepth = 64

// bigNumberKey marks a sub-document that holds a JSON number which neither
// int64 nor float64 represents exactly, as its decimal text. A payload key can
// never be "%num" itself, because a literal '%' in a key is escaped as "%25".
const bigNumberKey = "%num"

// EncodeData converts a JSON payload into the value stored in MongoDB: an
// object becomes a bson.D in the original key order, arrays bson.A, integers
// int64 and other numbers float64 where those hold the exact value; any
// other number is kept as its decimal text in a {"%num": "..."} document.
//
// Keys that MongoDB-compatible stores reject are escaped reversibly: '%'
// becomes "%25", '.' "%2E", a leading '$' "%24" and NUL "%00". DecodeData
// reverses both.
func EncodeData(raw []byte) (any, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true))
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *jsontext.Decoder, depth int) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{', '[':
		if depth >= MaxDataDepth {
			return nil, fmt.Errorf("nesting deeper than %d levels", MaxDataDepth)
		}
		if tok.Kind() == '{' {
			return decodeObject(dec, depth+1)
		}
		return decodeArray(dec, depth+1)
	case '0':
		return encodeNumber(tok.String())
	case '"':
		return tok.String(), nil
	case 't', 'f':
		return tok.Bool(), nil
	case 'n':
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func decodeObject(dec *jsontext.Decoder, depth int) (bson.D, error) {
	doc := bson.D{}
	var index map[string]int // built only for large objects, to find duplicate keys
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		key := EscapeKey(tok.String())
		v, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		// A repeated key keeps its last value, as JSON.parse does.
		if i := findKey(doc, &index, key); i >= 0 {
			doc[i].Value = v
			continue
		}
		doc = append(doc, bson.E{Key: key, Value: v})
		if index != nil {
			index[key] = len(doc) - 1
		}
	}
	if _, err := dec.ReadToken(); err != nil { // closing '}'
		return nil, err
	}
	return doc, nil
}

func findKey(doc bson.D, index *map[string]int, key string) int {
	const linearMax = 16
	if *index == nil && len(doc) > linearMax {
		*index = make(map[string]int, 2*len(doc))
		for i, e := range doc {
			(*index)[e.Key] = i
		}
	}
	if *index != nil {
		if i, ok := (*index)[key]; ok {
			return i
		}
		return -1
	}
	for i := range doc {
		if doc[i].Key == key {
			return i
		}
	}
	return -1
}

func decodeArray(dec *jsontext.Decoder, depth int) (bson.A, error) {
	arr := bson.A{}
	for dec.PeekKind() != ']' {
		v, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := dec.ReadToken(); err != nil { // closing ']'
		return nil, err
	}
	return arr, nil
}

// encodeNumber returns the exact stored form of a JSON number.
func encodeNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		return bson.D{{Key: bigNumberKey, Value: s}}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !floatIsExact(s, f) {
		return bson.D{{Key: bigNumberKey, Value: s}}, nil
	}
	return f, nil
}

// floatIsExact reports whether f, written in its shortest form, has the same
// decimal value as s.
func floatIsExact(s string, f float64) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	digits := significantDigits(s)
	if digits == 0 {
		return f == 0
	}
	// Any decimal of at most 15 significant digits within the normal range
	// survives a round trip through float64 (DBL_DIG is 15).
	if digits <= 15 && f != 0 && math.Abs(f) >= 0x1p-1022 {
		return true
	}
	want, ok := new(big.Rat).SetString(s)
	if !ok {
		return false
	}
	got, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return ok && want.Cmp(got) == 0
}

// significantDigits counts the digits of a JSON number's mantissa without
// leading and trailing zeros.
func significantDigits(s string) int {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimPrefix(s, "-")
	s = strings.Replace(s, ".", "", 1)
	s = strings.TrimLeft(s, "0")
	s = strings.TrimRight(s, "0")
	return len(s)
}

// EscapeKey returns key in the form stored in MongoDB; see EncodeData.
func EscapeKey(key string) string {
	if !strings.ContainsAny(key, ".%\x00") && !strings.HasPrefix(key, "$") {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 6)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '%':
			b.WriteString("%25")
		case c == '.':
			b.WriteString("%2E")
		case c == 0:
			b.WriteString("%00")
		case c == '$' && i == 0:
			b.WriteString("%24")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeKey reverses EscapeKey.
func UnescapeKey(key string) string {
	if !strings.Contains(key, "%") {
		return key
	}
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		if key[i] == '%' && i+2 < len(key) {
			switch key[i+1 : i+3] {
			case "25":
				b.WriteByte('%')
			case "2E":
				b.WriteByte('.')
			case "00":
				b.WriteByte(0)
			case "24":
				b.WriteByte('$')
			default:
				b.WriteByte('%')
				continue
			}
			i += 2
			continue
		}
		b.WriteByte(key[i])
	}
	return b.String()
}

// DecodeData converts a stored payload, as the MongoDB driver decodes it into
// bson.D, back into the JSON the client sent: keys unescaped, numbers exact,
// key order kept.
func DecodeData(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case bson.D:
		if len(t) == 1 && t[0].Key == bigNumberKey {
			if s, ok := t[0].Value.(string); ok {
				buf.WriteString(s)
				return nil
			}
		}
		buf.WriteByte('{')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(UnescapeKey(e.Key))
			buf.Write(k)
			buf.WriteByte(':')
			if err := writeJSON(buf, e.Value); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case bson.A:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case int32:
		buf.WriteString(strconv.FormatInt(int64(t), 10))
	case int64:
		buf.WriteString(strconv.FormatInt(t, 10))
	case nil, bool, string, float64:
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		buf.Write(b)
	default:
		return fmt.Errorf("decode stored payload: unexpected value of type %T, which no JSON payload produces", v)
	}
	return nil
}
