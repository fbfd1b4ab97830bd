// Package events defines Steward's wire format: the JSON event envelope, its
// kinds, validation, the subjects events are published on, and the lossless
// conversion of an event's JSON payload into a BSON document and back. No other
// package depends on the JSON shape of an event.
//
// An event is published on
//
//	steward.events.<user_id>.<session_id>.record.<type>      (a data record)
//	steward.events.<user_id>.<session_id>.session.started
//	steward.events.<user_id>.<session_id>.session.ended
//
// with the header Nats-Msg-Id set to "<user_id>:<id>", and a body such as
//
//	{"spec_version":"1","id":"e1","kind":"record","user_id":"u1",
//	 "session_id":"s1","type":"winston_logs",
//	 "time":"2026-12-04T19:32:51.650Z","data":{"level":"info"}}
//
// docs/events.md describes the format for client developers.
package events
