package storage

import (
	"os"
	"testing"
)

// Environment variables that turn the test binary into a child process
// for the crash and disk-full tests.
const (
	crashChildEnv    = "WARREN_STORAGE_CRASH_CHILD"
	diskFullChildEnv = "WARREN_STORAGE_DISKFULL_CHILD"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	if dir := os.Getenv(diskFullChildEnv); dir != "" {
		os.Exit(diskFullChild(dir))
	}
	os.Exit(m.Run())
}
