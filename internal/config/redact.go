package config

import (
	"log/slog"
	"net/url"
)

// RedactURL returns raw with any password replaced by "xxxxx", for logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// LogValue lists the settings without secrets.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("nats_url", RedactURL(c.NATS.URL)),
		slog.Bool("nats_auth", c.NATS.User != "" || c.NATS.Token != "" || c.NATS.CredsFile != "" || c.NATS.NKeyFile != ""),
		slog.String("mongodb_uri", RedactURL(c.Mongo.URI)),
		slog.String("database", c.Mongo.Database),
		slog.String("stream", c.Stream.EventsStream),
		slog.String("dead_letter_stream", c.Stream.DeadLetterStream),
		slog.String("consumer", c.Ingest.Consumer),
		slog.Int("batch_size", c.Ingest.BatchSize),
		slog.String("max_wait", c.Ingest.MaxWait.String()),
		slog.Int("max_ack_pending", c.Ingest.MaxAckPending),
		slog.Int("max_payload", c.Ingest.MaxPayload),
		slog.String("policy_file", c.PolicyFile),
	)
}
