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
//	node.go        Config, Node: New, Start, Stop, Propose, Status; node ids
//	loop.go        the Raft loop; proposals' entries; snapshots
//	membership.go  Join, Leave; conf changes; the address book; removal
//	status.go      the members as a node sees them (running, match, lag)
//	applied.go     the applied index in the broker's store (Durability)
//	transport.go   the peer link
//	logger.go      raft's Logger over zap
//	DESIGN.md      how the design scales past three nodes and one machine
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
// groups, which will share the connection. Group 0 is the link's own: a
// message there whose Context is "removed" tells its receiver that the
// cluster removed it (at Index). A frame is at most 256 MiB. A sender
// with nothing to send for pingInterval (250 ms) sends an empty frame
// (count 0), so that every node hears from every other, followers
// included, and can show which are running.
//
// A conf change's context is JSON, {"name": NODE, "addr": HOST:PORT}:
// the address book travels in the log. A snapshot's data is
//
//	"WRNS" 0x01 | book length uvarint | book (JSON) | definitions (RabbitMQ's JSON)
//
// (data without the magic is definitions alone, as before).
//
// Node ids are the FNV-1a hashes of the node names (NodeID). A node whose
// log is empty bootstraps with Config.Peers as the members (every node of
// a new cluster must be started with the same peers), unless Config.Join.
//
// # Membership
//
// Changes are Raft configuration changes (ConfChange, one at a time, as
// raft allows one pending), proposed from any node (raft forwards them
// to the leader); Join and Leave poll the applied configuration and
// propose again (at most once per election timeout) until it shows the
// change. Learners first: Join adds the node as a learner; at every tick
// the leader promotes one learner whose match index is within
// promoteLag (8) entries of the commit index. A joining node runs with
// Config.Join (--cluster-join): it does not bootstrap, waits for the
// leader, and catches up from a snapshot (one is taken at once when a
// node is added to a compacted log: raft refuses a snapshot whose
// configuration lacks its receiver) and then the log. Leave of the
// leader first hands leadership to another voter (raft's StepDownOnRemoval
// is set too). A node that applies its own removal, or is told of it on
// the control group (the leader stops replicating to a removed node, so
// it may never learn the commit), saves the book marked and stops its
// loop: Status.Removed, proposals fail with ErrRemoved; restarted, it
// stays stopped. Peers answer a removed node's raft messages with the
// notice.
//
// The address book (name -> peer address, and the names removed) comes
// from conf change contexts and snapshots, is saved in raftlog's meta
// record in the same commit as the conf state, and completes the flags'
// --cluster-peers at the next start.
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
// its messages are sent. The Raft log's applied index is saved with the
// next batch (at the latest one tick later); the broker's store, which
// holds the definitions, is another Badger. So that no command is
// applied twice after a crash (a queue deleted and declared again would
// be deleted again, with its messages), the loop submits each command's
// index to the broker's store right after the command (applied.go),
// behind its writes and ahead of the next command's; at start it skips
// the broker's apply of entries up to that index. At most the one
// command at the edge (its writes synced, its index not) meets its own
// effects again, which a single command takes as a no-op. A snapshot
// install cut by a crash is restored again at start. Non-durable objects
// are not in the broker's store: a restarted node lacks those that were
// applied before its last saved applied index (as a single node loses
// them).
//
// # Known gaps (this preview)
//
// An apply that a node refuses for its own reasons (its disk short of
// space for a durable declaration, no stream directory) leaves that node
// without the object while the others have it: the log has no way yet to
// tell a deterministic refusal from a local one. x-expires runs on each
// node's instance of a queue and deletes it there only; an auto-delete
// queue's deletion is proposed by the node whose last consumer left, and
// deletes every node's instance. Other nodes' runtime figures (memory,
// uptime) are not carried on the peer link: /api/nodes shows them for
// the node answering only.
//
// # Concurrency
//
// One goroutine (loop.run) owns the RawNode and applies entries; it never
// holds Node.mu while applying. It also owns the address book, the
// id -> name map and transport.peers (addPeer), and runs the functions
// Join, Leave and removal notices hand it on Node.ctlc (inLoop). Proposers block in Propose on their own
// result channel (Node.mu guards the pending map and the status, a leaf).
// The transport has one sender goroutine per peer (peer.mu guards its
// queue and address, a leaf; transport.mu the inbound connections and
// when each peer was last heard from, a leaf: send never blocks the loop; a full queue drops messages,
// which raft resends) and one reader goroutine per inbound connection,
// which hands messages to the loop over a channel. Code run by
// Broker.ApplyLocal must not call Broker.Apply: the loop would wait on
// itself. Stop waits for every goroutine.
package cluster
