package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/warrenmq/warren/amqp/server"
)

// versionLine is what `warren --version` prints: Warren's version, the
// commit it was built from ("+dirty" with uncommitted changes; "unknown"
// when the build carries no VCS stamp, as test binaries and builds outside
// a checkout do), and the Go toolchain.
func versionLine() string {
	rev, dirty := "unknown", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if dirty && rev != "unknown" {
		rev += "+dirty"
	}
	return fmt.Sprintf("Warren %s (commit %s, %s %s/%s)", server.Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
