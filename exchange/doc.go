// Package exchange holds the exchange kinds (direct, fanout, topic,
// headers, and the delayed-message plugin's x-delayed-message, which routes
// as the kind its x-delayed-type argument names) and an exchange's
// bindings, and routes a message to the NAMES of its destinations. Holding
// a delayed message back, and following an alternate exchange, are the
// vhost's business: DelayOf and Alternate only read what they need.
//
// It owns an exchange's description (name, kind, flags, arguments) and its
// bindings as a source. It does not own queues, vhosts or storage: it
// imports binding and the standard library only, never queue or
// amqp/server. Route returns Destination values (a queue or an exchange
// name); the vhost resolves them, follows exchange-to-exchange bindings by
// calling Route on the destination exchanges, and detects cycles. Nothing
// here recurses.
//
// # Concurrency
//
// An Exchange does no locking. Its caller, the vhost, holds a lock:
//
//   - Bind, Unbind and RemoveDestination mutate the exchange and need the
//     lock held for writing.
//   - Route, Bindings, HasBindings and ValidateBinding only read, and may be
//     called concurrently from many publishers under a read lock. Route
//     writes nothing shared: its scratch state is on its own stack (the
//     topic matcher takes dedup maps for large results from a sync.Pool).
//
// # Binding identity
//
// A binding is identified by (destination, key, arguments); the source is
// the exchange itself. Arguments are compared through a canonical encoding
// (see argsKey) so that two tables with the same entries, field types
// included, are the same binding whatever their map order. Several bindings
// that differ only in arguments route a message to their destination once.
//
//	Exchange
//	  byDest:  Destination ─► {(key, argsKey) ─► Binding}   every binding
//	  refs:    (key, Destination) ─► count                    direct/topic/fanout
//	  direct:  binding.Direct   key ─► {Destination}          direct; fanout under ""
//	  topic:   binding.Topic    pattern trie ─► {Destination}
//	  headers: [Destination ─► [binding.Headers, ...]]        headers (compiled args)
package exchange
