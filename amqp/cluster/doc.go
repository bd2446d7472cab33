// Package cluster runs a Warren node as a member of a cluster on etcd's
// Raft (go.etcd.io/raft/v3): the metadata Raft group, through which every
// definition change (vhosts, users, permissions, policies, parameters,
// limits, exchanges, queues, bindings) is committed and then applied on
// every node in log order, and the peer link that carries Raft's
// messages. A Node is the broker's broker.Replicator: Broker.Apply
// proposes the encoded command (broker.EncodeCommand) and returns once
// this node has applied it, with this node's result; two clients racing
// on two nodes to declare one queue with different arguments are
// ordered by the log: the first wins, the second gets the 406 its apply
// gives.
//
// A preview: messages are not replicated. Every node holds its own
// instance of every queue; a message stays on the node it was published
// to (quorum queues are the next step). Exclusive queues stay on their
// connection's node and are not proposed.
//
// # Map
//
//	front ends    amqp/server, HTTP API  --Apply-->  amqp/broker (core)
//	                                                   | Replicator.Propose(encoded command)
//	this package  Node (node.go) -- propc --> loop (loop.go): raft.RawNode
//	                 ^  Propose waits for its id       | Ready: persist, send, install, apply, Advance
//	                 |                                 v
//	              transport (transport.go)      storage/raftlog (<data-dir>/raft)
//	              one TCP connection per peer   one Badger, one Batch (fsync) per Ready
//	                                                   | committed entry
//	                                                   v
//	                                            Broker.ApplyLocal (every node)
//
//	node.go       Config, Node: New, Start, Stop, Propose, Status; node ids
//	loop.go       the Raft loop; proposals' entries; snapshots
//	transport.go  the peer link
//	logger.go     raft's Logger over zap
//
// # Wire format
//
// A proposal's entry data:
//
//	+-------------+-------------------+-------------------+------------------------+
//	| version u8  | proposer id u64BE | proposal id u64BE | broker.EncodeCommand   |
//	+-------------+-------------------+-------------------+------------------------+
//
// Proposal ids start at the node's start time in nanoseconds, so an entry
// proposed before a restart never answers a proposal made after it.
//
// Raft drops, silently, a proposal forwarded to a leader that fails before
// appending it. The loop keeps its node's proposals in flight and proposes
// them again when the leader changes; every node skips the second copy of
// a (proposer, id) it applied in the last seenWindow entries, in log
// order, so a command is applied once. (The window is not in snapshots: a
// duplicate that straddles a snapshot install could be applied twice;
// declares are idempotent, a second delete fails with nobody waiting.)
//
// The peer link: the dialling node sends a hello, then frames, each a
// batch of raft messages (one write and one flush per batch):
//
//	hello   "WRNR" | version u8 (1) | sender id u64 BE
//	frame   length u32 BE | count uvarint |
//	        count x ( group u64 BE | size uvarint | raftpb.Message (protobuf) )
//
// Group 1 is the metadata group; the field is there for the quorum queues'
// groups, which will share the connection. A frame is at most 256 MiB.
//
// Node ids are the FNV-1a hashes of the node names (NodeID). A node whose
// log is empty bootstraps with Config.Peers as the members: every node of
// a new cluster must be started with the same peers (membership changes
// are a next step).
//
// # Snapshots
//
// After SnapshotEntries applied entries the loop exports the definitions
// (broker.Export, RabbitMQ's JSON) as the snapshot's data and drops the
// log up to CatchUpEntries behind it. A follower too far behind gets the
// snapshot and installs it with broker.RestoreDefinitions (stale objects
// deleted, the rest imported, queues that did not change kept with their
// messages).
//
// # Durability
//
// A Ready's entries and hard state are synced (one raftlog Batch) before
// its messages are sent. The applied index is saved with the next batch
// (at the latest one tick later), so after a crash a node may apply again
// the last few commands it had applied: declarations and deletions are
// idempotent, apart from a queue deleted and declared again with other
// arguments inside that window. Non-durable objects are not in the
// broker's store: a restarted node lacks those that were applied before
// its last saved applied index (as a single node loses them).
//
// # Known gaps (this preview)
//
// An apply that a node refuses for its own reasons (its disk short of
// space for a durable declaration, no stream directory) leaves that node
// without the object while the others have it: the log has no way yet to
// tell a deterministic refusal from a local one. x-expires runs on each
// node's instance of a queue and deletes it there only; an auto-delete
// queue's deletion is proposed by the node whose last consumer left, and
// deletes every node's instance. Membership is fixed at bootstrap.
//
// # Concurrency
//
// One goroutine (loop.run) owns the RawNode and applies entries; it never
// holds Node.mu while applying. Proposers block in Propose on their own
// result channel (Node.mu guards the pending map and the status, a leaf).
// The transport has one sender goroutine per peer (peer.mu guards its
// queue, a leaf: send never blocks the loop; a full queue drops messages,
// which raft resends) and one reader goroutine per inbound connection,
// which hands messages to the loop over a channel. Code run by
// Broker.ApplyLocal must not call Broker.Apply: the loop would wait on
// itself. Stop waits for every goroutine.
package cluster
