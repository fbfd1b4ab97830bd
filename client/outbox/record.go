package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

const (
	segmentMagic = "STWOBX01"
	headerSize   = 16
	// maxPayloadSize bounds the length field, so a corrupt header cannot
	// make Open allocate gigabytes.
	maxPayloadSize = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Message is one stored message.
type Message struct {
	// Seq is the sequence Append assigned; it is ignored by Append.
	Seq     uint64
	Subject string
	// ID is the message id, which the receiver uses to drop a message that
	// is sent again after a crash.
	ID   string
	Data []byte
	// Corrupt is set by Read when the stored record no longer matches its
	// checksum; then Subject, ID and Data are empty. The record was valid
	// when Open or Append checked it, so only the disk can have changed it.
	Corrupt error
}

// size returns the stored size of m: header and payload.
func (m *Message) size() int64 {
	return headerSize + int64(payloadSize(m))
}

func payloadSize(m *Message) int {
	return uvarintLen(len(m.Subject)) + len(m.Subject) + uvarintLen(len(m.ID)) + len(m.ID) + len(m.Data)
}

func uvarintLen(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n))
}

// appendRecord appends the record of m with sequence seq to buf.
func appendRecord(buf []byte, seq uint64, m *Message) []byte {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(payloadSize(m)))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // checksum, set below
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	buf = binary.AppendUvarint(buf, uint64(len(m.Subject)))
	buf = append(buf, m.Subject...)
	buf = binary.AppendUvarint(buf, uint64(len(m.ID)))
	buf = append(buf, m.ID...)
	buf = append(buf, m.Data...)
	sum := crc32.Checksum(buf[start+8:], castagnoli)
	binary.LittleEndian.PutUint32(buf[start+4:], sum)
	return buf
}

// header is the fixed part of a record.
type header struct {
	payloadLen int
	checksum   uint32
	seq        uint64
}

func parseHeader(b []byte) (header, error) {
	h := header{
		payloadLen: int(binary.LittleEndian.Uint32(b[0:4])),
		checksum:   binary.LittleEndian.Uint32(b[4:8]),
		seq:        binary.LittleEndian.Uint64(b[8:16]),
	}
	if h.payloadLen > maxPayloadSize {
		return h, fmt.Errorf("record length %d exceeds the max of %d bytes", h.payloadLen, maxPayloadSize)
	}
	return h, nil
}

// decodeRecord checks the checksum of a whole record (header and payload)
// and returns its message. The message's Data aliases rec.
func decodeRecord(rec []byte) (Message, error) {
	h, err := parseHeader(rec)
	if err != nil {
		return Message{}, err
	}
	if len(rec) != headerSize+h.payloadLen {
		return Message{}, fmt.Errorf("record of sequence %d is %d bytes, but its header gives %d", h.seq, len(rec), headerSize+h.payloadLen)
	}
	if sum := crc32.Checksum(rec[8:], castagnoli); sum != h.checksum {
		return Message{}, fmt.Errorf("record of sequence %d fails its checksum (stored %08x, computed %08x)", h.seq, h.checksum, sum)
	}
	p := rec[headerSize:]
	subject, p, err := readString(p)
	if err != nil {
		return Message{}, fmt.Errorf("record of sequence %d: subject: %w", h.seq, err)
	}
	id, p, err := readString(p)
	if err != nil {
		return Message{}, fmt.Errorf("record of sequence %d: message id: %w", h.seq, err)
	}
	return Message{Seq: h.seq, Subject: subject, ID: id, Data: p}, nil
}

var errShortPayload = errors.New("payload is shorter than its length fields")

func readString(p []byte) (string, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || uint64(len(p)-k) < n {
		return "", nil, errShortPayload
	}
	return string(p[k : k+int(n)]), p[k+int(n):], nil
}
