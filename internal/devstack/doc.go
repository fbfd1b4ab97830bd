// Package devstack runs the servers Steward depends on inside the process:
// nats-server with JetStream and FerretDB on SQLite, which speaks the MongoDB
// wire protocol. `steward dev` and the tests use it, so neither needs
// anything installed but Go.
package devstack
