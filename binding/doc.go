// Package binding holds the pure matchers behind the exchange kinds: a trie
// for topic patterns (Topic), an exact-key map (Direct) and the headers
// match (MatchHeaders on raw arguments, Headers for compiled ones, and
// ValidateHeaders).
//
// It owns matching only. It knows nothing of exchanges, queues, vhosts or the
// wire: destinations are any comparable type D chosen by the caller, and
// table values are the plain Go values the codec decodes (bool, the sized
// integers, float32, float64, string, []byte, time.Time, map[string]any,
// []any, nil). It starts no goroutines and does no I/O, and imports the
// standard library only.
//
// # Concurrency
//
// Topic and Direct are not safe for concurrent mutation: the caller
// serialises Add and Remove, and excludes Match while they run (the vhost
// holds its lock for writing). Any number of Match calls may run at the same
// time, under a read lock: Match keeps its scratch state on its own stack
// (and takes dedup maps from a sync.Pool for large results) and writes
// nothing shared. MatchHeaders and ValidateHeaders are pure functions, and a
// compiled Headers is immutable.
//
// # Topic trie
//
// One node per pattern prefix; literal words, "*" and "#" are separate
// edges. The patterns "a.*.c", "a.#" and "#" with destinations q1, q2, q3:
//
//	root ──"a"──► n1 ──"*"──► n2 ──"c"──► n3 {q1}
//	  │            └──"#"──► n4 {q2}
//	  └──"#"──► n5 {q3}
//
// Matching "a.b.c" walks root→n1→n2→n3 (q1), root→n1→n4 with "#"
// absorbing "b.c" (q2), and root→n5 with "#" absorbing all three words (q3).
//
// The RabbitMQ 3.10 rules the matchers follow are written beside the code
// with "// rabbitmq:" markers.
package binding
