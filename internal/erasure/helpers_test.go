package erasure_test

import (
	"testing"

	"github.com/stewardhq/steward/internal/testenv"
)

// env adds this package's helpers to the shared test pipeline.
type env struct{ *testenv.Pipeline }

func setup(t *testing.T) *env { return &env{testenv.StartPipeline(t)} }

var (
	record           = testenv.Record
	session          = testenv.Session
	compareSnapshots = testenv.CompareSnapshots
	defaultTypes     = testenv.DefaultTypes
)
