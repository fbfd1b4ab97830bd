// Package natsconn opens the NATS connections of Steward's programs from
// configuration: credentials, endless reconnects, and logged disconnects.
package natsconn

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/config"
)

// Connect connects to NATS as the named client and returns the connection
// and its JetStream context. The connection reconnects forever, so a broker
// restart only pauses the caller; disconnects and reconnects are logged.
func Connect(cfg config.NATS, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from nats; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to nats", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats asynchronous error", "subject", subject, "err", err)
		}),
	}
	auth, err := AuthOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, auth...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w; check STEWARD_NATS_URL and that the server runs", config.RedactURL(cfg.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", config.RedactURL(cfg.URL), err)
	}
	return nc, js, nil
}

// AuthOptions returns the connection options for cfg's credentials: a
// credentials file, an NKey seed, a token, or a user and password, in that
// order of precedence.
func AuthOptions(cfg config.NATS) ([]nats.Option, error) {
	switch {
	case cfg.CredsFile != "":
		return []nats.Option{nats.UserCredentials(cfg.CredsFile)}, nil
	case cfg.NKeyFile != "":
		opt, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read STEWARD_NATS_NKEY %s: %w", cfg.NKeyFile, err)
		}
		return []nats.Option{opt}, nil
	case cfg.Token != "":
		return []nats.Option{nats.Token(cfg.Token)}, nil
	case cfg.User != "":
		return []nats.Option{nats.UserInfo(cfg.User, cfg.Password)}, nil
	}
	return nil, nil
}
