// Package alarm watches the node's resources and raises RabbitMQ's
// resource alarms: the memory high watermark and the free disk limit.
// While any alarm is raised the AMQP front end blocks every connection
// that publishes (connection.blocked), as RabbitMQ does; see its "memory
// and disk alarms" and "blocked connection notifications" guides.
//
// Map:
//
//	monitor.go    Monitor: one goroutine reading memory and disk every
//	              Interval, raising and clearing alarms, notifying the
//	              subscribers (the AMQP server) of each change; runtime
//	              setters for the watermark and the disk limit; Status for
//	              /api/nodes and the metrics.
//	memory.go     Watermark (a fraction or an absolute size), the
//	              process's memory (anonymous resident pages) and the
//	              machine's or cgroup's memory limit.
//
// What "memory used" is: the resident pages of the process that are not
// file-backed (/proc/self/statm resident minus shared). That is what the
// kernel's OOM killer counts and cannot reclaim; Badger's memory-mapped
// tables are file pages the kernel may drop, so counting them (plain RSS)
// would raise the alarm on a cold page cache, and the Go runtime's view
// (runtime/metrics) misses memory the runtime has not returned yet as well
// as anything outside the Go heap. It is one read of a small proc file.
//
// Under the memory alarm, Config.Reclaim (debug.FreeOSMemory in
// cmd/warren) runs at most once a second: the Go runtime gives freed pages
// back only slowly by itself, and the alarm would outlast its backlog.
//
// Disk: the store (storage.Store) already reads the free space every
// second and refuses new data below its MinFreeBytes; the monitor raises
// the disk alarm on the same figures (DiskSource), so the two agree.
//
// Concurrency: the Monitor's state sits under its mutex; readers of
// Alarms and Status take it briefly. Subscribers are called from the
// monitor's goroutine (or from Check's caller), in order, without the
// lock held; they must not block. No package-level mutable state.
package alarm
