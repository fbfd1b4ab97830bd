package client_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/stewardhq/steward/client"
)

// The app's secret identity key. A real app embeds its own 32 random bytes
// and never changes them, because a new key gives every user a new id.
var appKey = []byte("replace with 32 random bytes....")

func Example() {
	c, err := client.New(client.Config{
		URL:         "nats://127.0.0.1:4222",
		App:         "recorder",
		AppVersion:  "2.4.0",
		IdentityKey: appKey,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); errors.Is(err, client.ErrUnsent) {
			log.Print(err) // sent on the next start
		}
	}()

	s, err := c.StartSession()
	if err != nil {
		log.Fatal(err)
	}
	_, err = s.Record("winston_logs", map[string]any{"level": "info", "message": "recording started"})
	switch {
	case errors.Is(err, client.ErrOutboxFull):
		log.Print("offline for too long; this event is dropped: ", err)
	case err != nil:
		log.Fatal(err)
	}
	if err := s.End(nil); err != nil {
		log.Fatal(err)
	}
}
