package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// NoSync is the SyncInterval that never fsyncs: a killed process still
// loses nothing, a power loss may lose everything not yet written back by
// the operating system. Use it for outboxes that are thrown away anyway.
const NoSync time.Duration = -1

// Config configures an Outbox.
type Config struct {
	// Dir is the directory of the outbox files. It is created with mode 0700 when
	// missing. Required.
	Dir string
	// MaxMessages bounds the unacknowledged messages. Default 100,000.
	MaxMessages int
	// MaxBytes bounds the stored size of the unacknowledged messages,
	// 16 bytes of record header each included. Default 64 MiB. The files
	// take up to about SegmentBytes more, because a segment file is deleted
	// only once all of its messages are acknowledged.
	MaxBytes int64
	// SegmentBytes is the size in bytes at which Append starts a new
	// segment file. Default 4 MiB.
	SegmentBytes int64
	// SyncInterval decides when appended messages are fsynced. 0, the
	// default, fsyncs before Append returns. A positive value fsyncs at most
	// that long after an Append, so a power loss can lose the messages of
	// that interval. NoSync never fsyncs. A killed process loses nothing
	// with any of them.
	SyncInterval time.Duration
	// CursorInterval is the least time between two writes of the cursor
	// file by Ack. Default 1s. After a crash, messages acknowledged within
	// the last interval are read again and must be dropped by the receiver
	// as duplicates. Close always writes the cursor.
	CursorInterval time.Duration
	// Logger receives the repairs Open makes. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("outbox Dir is empty: set it to a directory in the user's data directory")
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = 100_000
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 64 << 20
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 4 << 20
	}
	if c.CursorInterval == 0 {
		c.CursorInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.MaxMessages < 0:
		return fmt.Errorf("outbox MaxMessages is %d: set a positive number or 0 for the default", c.MaxMessages)
	case c.MaxBytes < 0:
		return fmt.Errorf("outbox MaxBytes is %d: set a positive size or 0 for the default", c.MaxBytes)
	case c.SegmentBytes < 1024:
		return fmt.Errorf("outbox SegmentBytes is %d: set at least 1024 or 0 for the default", c.SegmentBytes)
	case c.SyncInterval < 0 && c.SyncInterval != NoSync:
		return fmt.Errorf("outbox SyncInterval is %v: set 0, a positive duration or NoSync", c.SyncInterval)
	case c.CursorInterval < 0:
		return fmt.Errorf("outbox CursorInterval is %v: set a positive duration or 0 for the default", c.CursorInterval)
	}
	return nil
}

// Outbox is an open outbox directory. Its methods are safe for concurrent
// use.
type Outbox struct {
	cfg    Config
	lock   *os.File
	notify chan struct{}

	mu     sync.Mutex // guards the fields below
	closed bool
	segs   []*segment // oldest first; the last one takes appends
	// pending lists the unacknowledged records from index head on.
	pending []pendingRef
	head    int
	bytes   int64
	next    uint64 // sequence of the next Append
	// cursorAt is when the cursor file was last written.
	cursorAt time.Time
	// unsynced is set while the active segment has writes that are not
	// fsynced; syncTimer is the pending fsync of a positive SyncInterval.
	unsynced  bool
	syncTimer *time.Timer
	buf       []byte
}

type pendingRef struct {
	recordRef
	seg *segment
}

// Open opens or creates the outbox in cfg.Dir, checks its files and
// repairs a record that a crash cut short. It fails with ErrLocked when
// another Outbox has the directory open.
func Open(cfg Config) (*Outbox, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open outbox lock: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("open outbox %s: %w by another client; give each running client its own directory", cfg.Dir, ErrLocked)
		}
		return nil, fmt.Errorf("lock outbox %s: %w", cfg.Dir, err)
	}
	o := &Outbox{cfg: cfg, lock: lock, notify: make(chan struct{}, 1), cursorAt: time.Now()}
	if err := o.load(); err != nil {
		o.closeFiles()
		return nil, err
	}
	return o, nil
}

// load reads the cursor and the segments and builds the pending index.
func (o *Outbox) load() error {
	log := o.cfg.Logger
	cursor, damaged, err := readCursor(o.cfg.Dir)
	if err != nil {
		return err
	}
	if damaged {
		log.Warn("outbox cursor file is damaged; sending every stored message again, the server drops those it already has", "dir", o.cfg.Dir)
	}

	firsts, err := listSegments(o.cfg.Dir)
	if err != nil {
		return fmt.Errorf("list outbox segments: %w", err)
	}
	var last uint64
	for i, first := range firsts {
		seg, refs, dropped, err := openSegment(o.cfg.Dir, first, last)
		if err != nil {
			return err
		}
		if dropped > 0 {
			log.Warn("outbox segment ended in a damaged or unfinished record, which a crash or power loss left; truncated it",
				"segment", seg.path, "bytes", dropped)
		}
		if seg.last > 0 {
			last = seg.last
		}
		isLast := i == len(firsts)-1
		if !isLast && (seg.last == 0 || seg.last < cursor) {
			if err := seg.remove(); err != nil {
				return err
			}
			continue
		}
		o.segs = append(o.segs, seg)
		for _, r := range refs {
			if r.seq >= cursor {
				o.pending = append(o.pending, pendingRef{recordRef: r, seg: seg})
				o.bytes += r.size
			}
		}
	}

	o.next = max(last+1, cursor, 1)
	if len(o.segs) == 0 {
		seg, err := createSegment(o.cfg.Dir, o.next)
		if err != nil {
			return err
		}
		o.segs = append(o.segs, seg)
		if err := o.syncDirIfDurable(); err != nil {
			return err
		}
	}

	if n := len(o.pending); n > 0 {
		log.Info("outbox contains unacknowledged messages from an earlier run; sending them first",
			"dir", o.cfg.Dir, "messages", n, "bytes", o.bytes)
	}
	return nil
}

// Append stores m and returns its sequence. When m does not fit within the
// bounds, it returns a *FullError and stores nothing.
func (o *Outbox) Append(m Message) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, ErrClosed
	}
	size := m.size()
	if size > o.cfg.MaxBytes {
		return 0, fmt.Errorf("append to outbox: message %s is %d bytes stored, more than MaxBytes (%d); raise MaxBytes or send smaller messages", m.ID, size, o.cfg.MaxBytes)
	}
	count := len(o.pending) - o.head
	if count+1 > o.cfg.MaxMessages || o.bytes+size > o.cfg.MaxBytes {
		return 0, &FullError{Messages: count, Bytes: o.bytes, MaxMessages: o.cfg.MaxMessages, MaxBytes: o.cfg.MaxBytes, Size: size}
	}
	active := o.segs[len(o.segs)-1]
	if active.last > 0 && active.size+size > o.cfg.SegmentBytes {
		var err error
		if active, err = o.rotate(); err != nil {
			return 0, err
		}
	}

	seq := o.next
	o.buf = appendRecord(o.buf[:0], seq, &m)
	if _, err := active.f.WriteAt(o.buf, active.size); err != nil {
		_ = active.f.Truncate(active.size)
		return 0, fmt.Errorf("write outbox segment %s: %w", active.path, err)
	}
	if err := o.syncAfterWrite(active); err != nil {
		_ = active.f.Truncate(active.size)
		return 0, err
	}
	o.pending = append(o.pending, pendingRef{recordRef: recordRef{seq: seq, off: active.size, size: size}, seg: active})
	o.bytes += size
	active.size += size
	active.last = seq
	o.next++
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return seq, nil
}

// syncAfterWrite applies the sync policy to a write to seg.
func (o *Outbox) syncAfterWrite(seg *segment) error {
	switch {
	case o.cfg.SyncInterval == 0:
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("fsync outbox segment %s: %w", seg.path, err)
		}
	case o.cfg.SyncInterval > 0:
		o.unsynced = true
		if o.syncTimer == nil {
			o.syncTimer = time.AfterFunc(o.cfg.SyncInterval, o.syncLater)
		}
	}
	return nil
}

// syncLater runs from the timer of a positive SyncInterval.
func (o *Outbox) syncLater() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.syncTimer = nil
	if o.closed || !o.unsynced {
		return
	}
	active := o.segs[len(o.segs)-1]
	if err := active.f.Sync(); err != nil {
		o.cfg.Logger.Error("fsync outbox segment failed; a power loss could lose recent messages", "segment", active.path, "err", err)
		return
	}
	o.unsynced = false
}

// rotate fsyncs the active segment and starts a new one.
func (o *Outbox) rotate() (*segment, error) {
	old := o.segs[len(o.segs)-1]
	if o.cfg.SyncInterval != NoSync {
		if err := old.f.Sync(); err != nil {
			return nil, fmt.Errorf("fsync outbox segment %s: %w", old.path, err)
		}
		o.unsynced = false
	}
	seg, err := createSegment(o.cfg.Dir, o.next)
	if err != nil {
		return nil, err
	}
	o.segs = append(o.segs, seg)
	if err := o.syncDirIfDurable(); err != nil {
		return nil, err
	}
	if err := o.removeAcknowledgedSegments(); err != nil {
		o.cfg.Logger.Warn("remove acknowledged outbox segment failed; it is removed again after the next acknowledgement", "err", err)
	}
	return seg, nil
}

func (o *Outbox) syncDirIfDurable() error {
	if o.cfg.SyncInterval == NoSync {
		return nil
	}
	if err := syncDir(o.cfg.Dir); err != nil {
		return fmt.Errorf("fsync outbox directory %s: %w", o.cfg.Dir, err)
	}
	return nil
}

// Read returns unacknowledged messages in sequence order, starting at the
// first one whose sequence is at least from. It returns at most
// maxMessages messages and stops before maxBytes of stored size, but always returns
// one message when there is one. A record that fails its checksum is
// returned with Corrupt set.
func (o *Outbox) Read(from uint64, maxMessages int, maxBytes int64) ([]Message, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	refs := o.pending[o.head:]
	i := sort.Search(len(refs), func(i int) bool { return refs[i].seq >= from })
	refs = refs[i:]
	n, total := 0, int64(0)
	for n < len(refs) && n < maxMessages && (n == 0 || total+refs[n].size <= maxBytes) {
		total += refs[n].size
		n++
	}
	refs = refs[:n]

	msgs := make([]Message, 0, n)
	for len(refs) > 0 {
		// Read the run of records that sit back to back in one segment
		// with a single ReadAt.
		run := 1
		for run < len(refs) && refs[run].seg == refs[0].seg && refs[run].off == refs[run-1].off+refs[run-1].size {
			run++
		}
		end := refs[run-1].off + refs[run-1].size
		buf := make([]byte, end-refs[0].off)
		if _, err := refs[0].seg.f.ReadAt(buf, refs[0].off); err != nil {
			return nil, fmt.Errorf("read outbox segment %s at offset %d: %w", refs[0].seg.path, refs[0].off, err)
		}
		for _, r := range refs[:run] {
			rec := buf[r.off-refs[0].off : r.off-refs[0].off+r.size]
			m, err := decodeRecord(rec)
			if err == nil && m.Seq != r.seq {
				err = fmt.Errorf("record contains sequence %d, expected %d", m.Seq, r.seq)
			}
			if err != nil {
				m = Message{Seq: r.seq, Corrupt: err}
			}
			msgs = append(msgs, m)
		}
		refs = refs[run:]
	}
	return msgs, nil
}

// Ack marks every message up to and including sequence through as
// acknowledged. Segment files whose messages are all acknowledged are
// deleted.
func (o *Outbox) Ack(through uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	for o.head < len(o.pending) && o.pending[o.head].seq <= through {
		o.bytes -= o.pending[o.head].size
		o.pending[o.head] = pendingRef{}
		o.head++
	}
	if o.head > 1024 && o.head > len(o.pending)/2 {
		o.pending = append(o.pending[:0], o.pending[o.head:]...)
		o.head = 0
	}
	err := o.removeAcknowledgedSegments()
	if time.Since(o.cursorAt) >= o.cfg.CursorInterval {
		err = errors.Join(err, o.writeCursor())
	}
	return err
}

// cursor returns the first unacknowledged sequence, or the next sequence
// when nothing is pending.
func (o *Outbox) cursor() uint64 {
	if o.head < len(o.pending) {
		return o.pending[o.head].seq
	}
	return o.next
}

func (o *Outbox) writeCursor() error {
	o.cursorAt = time.Now()
	return writeCursor(o.cfg.Dir, o.cursor())
}

// removeAcknowledgedSegments deletes the segments before the active one
// that hold no unacknowledged message.
func (o *Outbox) removeAcknowledgedSegments() error {
	cursor := o.cursor()
	var err error
	for len(o.segs) > 1 && o.segs[0].last < cursor {
		err = errors.Join(err, o.segs[0].remove())
		o.segs[0] = nil
		o.segs = o.segs[1:]
	}
	return err
}

// Stats returns the number and stored size of unacknowledged messages.
func (o *Outbox) Stats() (messages int, bytes int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending) - o.head, o.bytes
}

// Cursor returns the sequence of the first unacknowledged message, or the
// sequence the next Append gets when every message is acknowledged.
func (o *Outbox) Cursor() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cursor()
}

// Next returns the sequence the next Append gets.
func (o *Outbox) Next() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next
}

// Appended returns a channel that receives a value after an Append. Values
// are coalesced: one value may stand for several Appends.
func (o *Outbox) Appended() <-chan struct{} { return o.notify }

// Dir returns the outbox directory.
func (o *Outbox) Dir() string { return o.cfg.Dir }

// Close fsyncs the active segment (unless SyncInterval is NoSync), writes
// the cursor, and releases the directory. It is safe to call more than
// once.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	if o.syncTimer != nil {
		o.syncTimer.Stop()
		o.syncTimer = nil
	}
	var err error
	if o.cfg.SyncInterval != NoSync && o.unsynced {
		active := o.segs[len(o.segs)-1]
		if serr := active.f.Sync(); serr != nil {
			err = fmt.Errorf("fsync outbox segment %s: %w", active.path, serr)
		}
	}
	err = errors.Join(err, o.writeCursor())
	return errors.Join(err, o.closeFiles())
}

func (o *Outbox) closeFiles() error {
	var err error
	for _, s := range o.segs {
		err = errors.Join(err, s.close())
	}
	// Closing the file releases the lock.
	return errors.Join(err, o.lock.Close())
}
