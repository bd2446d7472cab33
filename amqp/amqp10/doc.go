// Package amqp10 is the AMQP 1.0 message format (OASIS AMQP 1.0, part 3:
// messaging), the records of stream queues: a stream message is stored as
// the AMQP 1.0 message the stream protocol carries, and the AMQP 0-9-1
// front end converts to and from it (queue/stream record.go). A leaf: it
// imports the standard library only, and knows no 0-9-1.
//
// # Map
//
//	types.go    the type system: Symbol, UUID, Described; Append (encode
//	            a value), a sticky-error decoder
//	message.go  Message: the sections (header, message annotations,
//	            properties, application properties, data / amqp-value);
//	            Marshal, Unmarshal
//
// # Format
//
// A message is a sequence of described sections, each a descriptor
// (smallulong 0x53 code) and a value:
//
//	0x00 0x53 0x70 list     header          durable, priority, ttl, ...
//	0x00 0x53 0x72 map      message-annotations  (symbol keys)
//	0x00 0x53 0x73 list     properties      message-id ... reply-to-group-id
//	0x00 0x53 0x74 map      application-properties  (string keys)
//	0x00 0x53 0x75 binary   data (one or more)
//	0x00 0x53 0x77 any      amqp-value
//
// Encoding uses the smallest form (str8 below 256 bytes, list8 / map8
// below 256 bytes, smallulong, smallint ...); decoding accepts every form.
//
// # Concurrency
//
// None: values and functions only.
package amqp10
