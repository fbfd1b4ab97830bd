// Package client publishes Steward events from desktop apps, which sleep,
// lose the network, get killed and are cloned from disk images.
//
// A Client is created once per app start:
//
//	c, err := client.New(client.Config{
//		URL:         "nats://events.example.com:4222",
//		App:         "recorder",
//		AppVersion:  "2.4.0",
//		IdentityKey: appKey, // a fixed secret of the app, 16 bytes or more
//	})
//	if err != nil { ... }
//	defer c.Close(ctxWithDeadline)
//
//	s, err := c.StartSession()                  // session.started
//	id, err := s.Record("winston_logs", line)   // a data record
//	err = s.End(nil)                            // session.ended
//
// # Delivery
//
// Record validates the event with the same rules as ingest, writes it to an
// on-disk outbox (package outbox) and returns. It never waits for the
// network. A background goroutine publishes the outbox in order to the
// JetStream events stream, with the Nats-Msg-Id header set to
// "<user id>:<event id>", and removes each event once the stream
// acknowledged it. So:
//
//   - An event that Record accepted is not lost when the process is killed:
//     it is in the outbox file, and the next Client on the same outbox
//     directory sends it. A power loss can lose the events of the last
//     Outbox.SyncInterval, which is 0 (fsync before Record returns) unless
//     changed.
//   - An event sent twice, after a crash or a lost acknowledgement, keeps
//     its event id, so the stream drops it within its duplicate window and
//     ingest never stores a second document for it.
//   - The stream receives each session's events in the order of the Record
//     calls. After any failure the client waits for all publishes in flight
//     and starts again from the first unacknowledged event, and at the
//     start, after a reconnect and after a failure it sends one event and
//     waits for its acknowledgement before it sends more. The exception is
//     a server that fails to store one event and stores the next one sent
//     on the same connection: a storage error, or a stream that changes its
//     leader in a cluster.
//   - The client starts without a server (nats.RetryOnFailedConnect) and
//     reconnects forever. While it is disconnected, events wait in the
//     outbox.
//
// The outbox is bounded by Config.Outbox.MaxMessages and MaxBytes (100,000
// events and 64 MiB by default). At the bound, Record returns an error
// wrapping ErrOutboxFull with both numbers, logs the first rejection, and
// records nothing: the app decides whether to retry, drop or tell the user.
// Events already recorded are never dropped to make room.
//
// An event larger than Config.MaxEventBytes, or than the NATS server's max
// payload once the client has connected, is rejected by Record with
// ErrEventTooLarge and both sizes. One that passed those checks but is
// larger than the server's max payload (learned after Record, on connecting)
// or the stream's max message size is removed from the outbox when
// published and reported to Config.OnError as a *PublishError wrapping
// ErrRejected, so it never blocks the events behind it.
//
// # Identity
//
// Without Config.UserID, the user id is derived on the machine by package
// identity: an HMAC of the machine id, the OS user and a per-install id, so
// the raw machine id never leaves the machine and cloned machines get their
// own ids. Session ids are UUIDv7s, unique per StartSession and ordered by
// time.
//
// # Shutdown
//
// Close stops Record, waits for the outstanding acknowledgements until its
// context ends, and closes the connection and the outbox. What is still
// unacknowledged then stays in the outbox for the next start, and Close
// returns an *UnsentError with the number of those events.
package client
