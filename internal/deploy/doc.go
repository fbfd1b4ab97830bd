// Package deploy tests the deployment files at the repository root against
// the real programs that read them. Its tests load nats.conf with
// nats-server's own parser and start that server in-process on 127.0.0.1.
// They check the users and permissions the file declares. Steward's workers
// can manage and consume streams. A desktop client can publish only its own
// user's events and receive only its own publish acknowledgements.
//
// The package has no code of its own. docker-compose.yml and the Dockerfile
// are not tested here, because the tests run without a container engine.
package deploy
