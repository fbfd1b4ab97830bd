// Package outbox is a bounded, append-only queue of messages on disk, for a
// client that must not lose a message it accepted while its broker is
// unreachable, the machine sleeps or the process is killed.
//
// Append writes a message to the active segment file before it returns, so
// a killed process loses nothing that Append accepted: the operating system
// keeps the written bytes. Whether a power loss can take the last messages
// depends on Config.SyncInterval, which decides when the file is fsynced.
// A sender reads pending messages in append order with Read and confirms
// them with Ack; Ack moves a cursor, and a segment file is deleted once all
// of its messages are acknowledged.
//
// # Files
//
// The directory contains:
//
//	00000000000000000001.seg   segment files, named by their first sequence
//	cursor                     the first unacknowledged sequence, as text
//	LOCK                       locked while an Outbox has the directory open
//
// A segment starts with the 8-byte magic "STWOBX01" and continues with
// records. Every record is a 16-byte header and a payload, all integers
// little-endian:
//
//	uint32  payload length in bytes
//	uint32  CRC-32C (Castagnoli) of the sequence bytes and the payload
//	uint64  sequence, increasing by one per message
//	payload uvarint subject length, subject, uvarint message id length,
//	        message id, data
//
// Open checks every record. A record that is cut short or fails its
// checksum is normally one that a crash interrupted, or that a power loss
// struck before its fsync. Open truncates the segment there and logs how
// many bytes it dropped. Those bytes include any records after it, which
// only damage of the disk itself can leave. Sequences after a truncation
// continue from the last valid record.
//
// The cursor is written lazily (Config.CursorInterval), because a stale
// cursor only means that messages acknowledged shortly before a crash are
// sent again. A receiver that deduplicates by message id, as JetStream does
// with the Nats-Msg-Id header, drops them.
package outbox
