package storage

import (
	"os"
	"testing"
)

// crashChildEnv turns the test binary into the crash test's child.
const crashChildEnv = "WARREN_STORAGE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}
