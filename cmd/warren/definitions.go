package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/amqp/server"
)

// loadDefinitions imports a definitions file in RabbitMQ's JSON format
// into the broker before it accepts connections, at every start, as
// RabbitMQ's load_definitions does (an import is idempotent: what the
// file declares is there afterwards). A bad file stops the start with the
// entry it refuses.
func loadDefinitions(srv *server.Server, path string, log *zap.Logger) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--load-definitions: %w", err)
	}
	if err := srv.Broker().Import(raw, ""); err != nil {
		return fmt.Errorf("--load-definitions %s: %w", path, err)
	}
	log.Info("definitions loaded", zap.String("file", path))
	return nil
}
