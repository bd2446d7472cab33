// Package streamlog is the append-only segmented log behind stream queues:
// Kafka's and RabbitMQ osiris's design on plain files. It knows records
// (opaque bytes), offsets and timestamps, not AMQP.
//
// # Map
//
//	log.go       Log: Open (recovery), Append (group commit), retention, Close
//	chunk.go     the chunk format: encode, decode, CRC
//	segment.go   segment files: naming, scanning, the in-memory sparse index
//	reader.go    Reader: a cursor over committed chunks, read from the files
//	region.go    Region: a chunk's records left in their segment file, to
//	             send with sendfile; the file's reference count
//
// # Files
//
//	Dir/<first offset, 20 digits>.seg   segment files, oldest first
//
// A segment is a sequence of chunks; a new segment starts when the active
// one has reached Options.MaxSegmentBytes. A chunk holds the records of one
// group commit and is written and read whole. Its layout is osiris's
// (RabbitMQ's stream log, osiris_log.erl), so that the stream protocol
// delivers a chunk as stored, header and records, without decoding it:
//
//	 0        1        2            4            8              16
//	+--------+--------+------------+------------+--------------+--------------+
//	| 0x51   | type 0 | entries    | records    | timestamp    | epoch (1)    |
//	| magic5 | (user) | u16 BE     | u32 BE     | i64 BE (ms)  | u64 BE       |
//	| ver 1  |        |            |            |              |              |
//	+--------+--------+------------+------------+--------------+--------------+
//	24             32          36          40           44       45
//	+--------------+-----------+-----------+------------+--------+----------+
//	| first offset | crc32     | data size | trailer    | filter | reserved |
//	| u64 BE       | IEEE,data | u32 BE    | size u32 BE| size u8| 3 bytes  |
//	+--------------+-----------+-----------+------------+--------+----------+
//	| filter (filter size bytes, see chunk.go; none when no record has one)  |
//	| data: records x ( length u32 BE, top bit 0 | bytes )  (osiris simple   |
//	|       entries; entries == records: no sub-batch entries are stored)   |
//	| trailer (trailer size bytes, see chunk.go; none when no deduplicating |
//	|       publisher's batch ends here): writers' last publishing ids      |
//	+------------------------------------------------------------------------+
//
// The records are opaque here; queue/stream writes AMQP 1.0 messages.
// Reader.ReadRaw hands out header and data as one buffer (the filter and
// the trailer left out, their sizes zeroed) behind the caller's frame
// prefix. Reader.ReadSendable hands out the header alone and, for the
// records, their range of the segment file (a Region: the records are
// contiguous there, between the filter and the trailer), to be sent from
// the file with sendfile(2).
//
// The trailer carries writers' sequences (Log.AppendBatchSeq: a stream
// protocol publisher's last publishing id of a batch), so a sequence is on
// disk exactly when its records are: one write, one fsync, and a torn
// chunk loses both (osiris keeps writers' sequences in its chunks too).
// The first chunk of each segment carries every writer's (a snapshot):
// Open reads the trailers of the newest segments down to one that starts
// with a snapshot, and retention never loses a writer.
//
// A reader with a filter (Reader.Match) reads a chunk's header and filter
// only, and skips the chunk unread when no record can match.
//
// The sparse index is one entry per chunk (first offset, timestamp, file
// position), rebuilt at Open by reading the chunk headers; a reader seeks
// by offset or timestamp to a chunk, then reads chunks in order.
//
// # Durability and recovery
//
// Appends are queued; the writer goroutine takes every queued record as
// one chunk, writes it, fdatasyncs the segment (and the directory when
// the segment is new) and only then publishes the new tail to readers and
// runs the appends' callbacks (a publisher's confirm). At Open every chunk
// of the last segment is checked (header bounds and CRC); a torn or
// corrupt tail is truncated away, never refused. Earlier segments are
// checked for header bounds only. Segments of Warren's first format
// (chunks starting "WTC2", before the osiris layout) are renamed
// <name>.seg.v1 and left out, kept rather than truncated as torn.
//
// # Retention
//
// Whole segments, oldest first, never the active one: while the log is
// over Options.MaxBytes, or the newest chunk of the oldest segment is
// older than Options.MaxAge. A reader positioned in a removed segment
// continues from the first remaining one (the open file stays readable
// on POSIX systems until the reader moves on). A Region holds its file
// open too: the Reader's file is reference counted, closed when the
// Reader and every Region it handed out have let go, so a chunk queued
// for sendfile reads the bytes it was handed out for whatever retention,
// a segment roll or Delete did meanwhile (committed bytes never change).
//
// # Concurrency
//
// Log.mu guards the segment list, the index and the committed tail; it is
// never held during I/O. The writer goroutine is the only writer of the
// files. A Reader is used by one goroutine; it reads with ReadAt on its
// own file handle and takes Log.mu only to look up positions; a Region
// is used by one goroutine at a time (the Reader's hands it to a
// connection's writer) and its reference count is atomic. Changed
// returns a channel closed at the next commit, to wait on without polling.
package streamlog
