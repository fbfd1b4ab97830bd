package outbox

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const segmentExt = ".seg"

// segment is one segment file. Its records have increasing sequences.
type segment struct {
	path string
	f    *os.File
	// first is the sequence in the file name: the first record's sequence,
	// or the next sequence when the segment was created.
	first uint64
	// last is the sequence of the last record, 0 while there is none.
	last uint64
	// size is the file's length in bytes, magic included; new records are
	// written there.
	size int64
}

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", first, segmentExt))
}

// listSegments returns the first sequences of the directory's segment
// files in increasing order.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("segment file name %s is not a sequence number; move the file out of %s", e.Name(), dir)
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	return firsts, nil
}

// createSegment creates an empty segment whose first record will have
// sequence first.
func createSegment(dir string, first uint64) (*segment, error) {
	path := segmentPath(dir, first)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create outbox segment: %w", err)
	}
	if _, err := f.WriteAt([]byte(segmentMagic), 0); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write outbox segment %s: %w", path, err)
	}
	return &segment{path: path, f: f, first: first, size: int64(len(segmentMagic))}, nil
}

// recordRef is the location of one record in its segment file.
type recordRef struct {
	seq  uint64
	off  int64
	size int64
}

// openSegment opens a segment file and checks every record. after is the
// sequence of the last record before this segment; a record whose sequence
// does not exceed it counts as damage. The returned refs list the valid
// records. A damaged or cut-short tail is truncated and reported in
// dropped, the number of bytes removed.
func openSegment(dir string, first, after uint64) (seg *segment, refs []recordRef, dropped int64, err error) {
	path := segmentPath(dir, first)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("open outbox segment: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("open outbox segment: %w", err)
	}
	seg = &segment{path: path, f: f, first: first}
	fileSize := info.Size()

	magic := make([]byte, len(segmentMagic))
	if _, err := f.ReadAt(magic, 0); err != nil || string(magic) != segmentMagic {
		if fileSize < int64(len(segmentMagic)) {
			// A crash right after the file was created: rewrite the magic.
			if _, err := f.WriteAt([]byte(segmentMagic), 0); err != nil {
				f.Close()
				return nil, nil, 0, fmt.Errorf("repair outbox segment %s: %w", path, err)
			}
			seg.size = int64(len(segmentMagic))
			if err := f.Truncate(seg.size); err != nil {
				f.Close()
				return nil, nil, 0, fmt.Errorf("repair outbox segment %s: %w", path, err)
			}
			return seg, nil, fileSize, nil
		}
		f.Close()
		return nil, nil, 0, fmt.Errorf("outbox segment %s does not start with %q: it is not an outbox file or it is damaged; move it out of %s", path, segmentMagic, dir)
	}

	end, refs := scanRecords(f, fileSize, after)
	if end < fileSize {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("truncate damaged tail of outbox segment %s at offset %d: %w", path, end, err)
		}
	}
	seg.size = end
	if len(refs) > 0 {
		seg.last = refs[len(refs)-1].seq
	}
	return seg, refs, fileSize - end, nil
}

// scanRecords reads records from the magic to fileSize and returns the end
// of the last valid one and the refs of all valid ones.
func scanRecords(f *os.File, fileSize int64, after uint64) (int64, []recordRef) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, fileSize), 256<<10)
	if _, err := r.Discard(len(segmentMagic)); err != nil {
		return int64(len(segmentMagic)), nil
	}
	var refs []recordRef
	off := int64(len(segmentMagic))
	prev := after
	hdr := make([]byte, headerSize)
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return off, refs // clean end, or a header cut short
		}
		h, err := parseHeader(hdr)
		if err != nil || h.seq <= prev {
			return off, refs
		}
		payload = slices.Grow(payload[:0], h.payloadLen)[:h.payloadLen]
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, refs
		}
		crc := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, payload)
		if crc != h.checksum {
			return off, refs
		}
		size := int64(headerSize + h.payloadLen)
		refs = append(refs, recordRef{seq: h.seq, off: off, size: size})
		off += size
		prev = h.seq
	}
}

func (s *segment) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// remove closes and deletes the segment file.
func (s *segment) remove() error {
	s.close()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove acknowledged outbox segment: %w", err)
	}
	return nil
}
