// Package managementtest runs an in-process management API for tests:
// over a Warren that servertest started, on 127.0.0.1:0, until the test
// ends. It holds no state of its own; each call starts one API.
//
//	managementtest.go  Start: the API over a servertest.StartServer Warren
//
// Concurrency: Start serves on its own goroutine (servertest.Serve) and
// shuts the API down in the test's Cleanup.
package managementtest
