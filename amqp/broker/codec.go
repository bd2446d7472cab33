package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/warrenmq/warren/exchange"
)

// The command codec: a Command and the vhost it applies to as one value
// for a Raft log entry (cluster), versioned and tagged, JSON:
//
//	{"v":1,"t":"declare_queue","vhost":"/","c":{...the command...}}
//
// Argument tables (exchange, queue and binding arguments) are carried in
// their AMQP wire form (base64 in the JSON), as the store keeps them, so
// that their types (long, long long, decimal, ...) survive; JSON values
// (policies, parameters, user limits) stay JSON (numbers as float64, the
// form the core keeps them in). What only means something on one node is
// left out: DeclareQueue's Owner and store ID (each node numbers its own
// queues) and DeleteQueue's *queue.Queue (the node that applies it deletes
// the queue of that name). A decoder meeting a version or tag it does not
// know refuses the entry (ErrCodec).

// CodecVersion is the version of the command encoding this build writes
// and reads.
const CodecVersion = 1

// ErrCodec is what a command that cannot be encoded or decoded wraps.
var ErrCodec = errors.New("broker: command codec")

type envelope struct {
	V     int             `json:"v"`
	T     string          `json:"t"`
	Vhost string          `json:"vhost,omitempty"`
	C     json.RawMessage `json:"c"`
}

// Wire forms of the commands that carry argument tables or node-local
// fields.
type (
	declareExchangeWire struct {
		Name       string `json:"name"`
		Kind       string `json:"kind"`
		Durable    bool   `json:"durable,omitempty"`
		AutoDelete bool   `json:"auto_delete,omitempty"`
		Internal   bool   `json:"internal,omitempty"`
		Args       []byte `json:"args,omitempty"`
	}
	declareQueueWire struct {
		Name       string `json:"name"`
		Durable    bool   `json:"durable,omitempty"`
		Exclusive  bool   `json:"exclusive,omitempty"`
		AutoDelete bool   `json:"auto_delete,omitempty"`
		Args       []byte `json:"args,omitempty"`
	}
	deleteQueueWire struct {
		Name     string `json:"name"`
		IfUnused bool   `json:"if_unused,omitempty"`
		IfEmpty  bool   `json:"if_empty,omitempty"`
	}
	bindWire struct {
		Source     string `json:"source"`
		Dest       string `json:"destination"`
		ToExchange bool   `json:"to_exchange,omitempty"`
		Key        string `json:"key"`
		Args       []byte `json:"args,omitempty"`
	}
)

// commandTag names each command type in the encoding; "" for a type the
// codec does not know.
func commandTag(cmd Command) string {
	switch cmd.(type) {
	case AddVhost:
		return "add_vhost"
	case DeleteVhost:
		return "delete_vhost"
	case DeclareExchange:
		return "declare_exchange"
	case DeleteExchange:
		return "delete_exchange"
	case DeclareQueue:
		return "declare_queue"
	case DeleteQueue:
		return "delete_queue"
	case Bind:
		return "bind"
	case Unbind:
		return "unbind"
	case SetPolicy:
		return "set_policy"
	case ClearPolicy:
		return "clear_policy"
	case SetParameter:
		return "set_parameter"
	case ClearParameter:
		return "clear_parameter"
	case SetVhostLimit:
		return "set_vhost_limit"
	case ClearVhostLimit:
		return "clear_vhost_limit"
	case PutUser:
		return "put_user"
	case DeleteUser:
		return "delete_user"
	case SetPermissions:
		return "set_permissions"
	case ClearPermissions:
		return "clear_permissions"
	case SetTopicPermissions:
		return "set_topic_permissions"
	case ClearTopicPermissions:
		return "clear_topic_permissions"
	case SetGlobalParameter:
		return "set_global_parameter"
	case ClearGlobalParameter:
		return "clear_global_parameter"
	}
	return ""
}

// newCommand returns a pointer to a zero command for tag, into which the
// body decodes; nil for an unknown tag. The command types with a wire
// form are decoded in decodeBody.
func newCommand(tag string) any {
	switch tag {
	case "add_vhost":
		return &AddVhost{}
	case "delete_vhost":
		return &DeleteVhost{}
	case "delete_exchange":
		return &DeleteExchange{}
	case "set_policy":
		return &SetPolicy{}
	case "clear_policy":
		return &ClearPolicy{}
	case "set_parameter":
		return &SetParameter{}
	case "clear_parameter":
		return &ClearParameter{}
	case "set_vhost_limit":
		return &SetVhostLimit{}
	case "clear_vhost_limit":
		return &ClearVhostLimit{}
	case "put_user":
		return &PutUser{}
	case "delete_user":
		return &DeleteUser{}
	case "set_permissions":
		return &SetPermissions{}
	case "clear_permissions":
		return &ClearPermissions{}
	case "set_topic_permissions":
		return &SetTopicPermissions{}
	case "clear_topic_permissions":
		return &ClearTopicPermissions{}
	case "set_global_parameter":
		return &SetGlobalParameter{}
	case "clear_global_parameter":
		return &ClearGlobalParameter{}
	}
	return nil
}

// EncodeCommand encodes cmd for vhost.
func EncodeCommand(vhost string, cmd Command) ([]byte, error) {
	tag := commandTag(cmd)
	if tag == "" {
		return nil, fmt.Errorf("%w: no encoding for %T", ErrCodec, cmd)
	}
	var body any = cmd
	switch c := cmd.(type) {
	case DeclareExchange:
		body = declareExchangeWire{Name: c.Name, Kind: c.Kind.String(), Durable: c.Durable, AutoDelete: c.AutoDelete, Internal: c.Internal, Args: encodeArgs(c.Args)}
	case DeclareQueue:
		body = declareQueueWire{Name: c.Name, Durable: c.Durable, Exclusive: c.Exclusive, AutoDelete: c.AutoDelete, Args: encodeArgs(c.Args)}
	case DeleteQueue:
		body = deleteQueueWire{Name: c.Name, IfUnused: c.IfUnused, IfEmpty: c.IfEmpty}
	case Bind:
		body = bindWire{Source: c.Source, Dest: c.Destination.Name, ToExchange: c.Destination.Exchange, Key: c.Key, Args: encodeArgs(c.Args)}
	case Unbind:
		body = bindWire{Source: c.Source, Dest: c.Destination.Name, ToExchange: c.Destination.Exchange, Key: c.Key, Args: encodeArgs(c.Args)}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %v", ErrCodec, cmd, err)
	}
	return json.Marshal(envelope{V: CodecVersion, T: tag, Vhost: vhost, C: raw})
}

// DecodeCommand decodes what EncodeCommand encoded: the vhost and the
// command.
func DecodeCommand(b []byte) (string, Command, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrCodec, err)
	}
	if env.V != CodecVersion {
		return "", nil, fmt.Errorf("%w: version %d, this node reads %d", ErrCodec, env.V, CodecVersion)
	}
	cmd, err := decodeBody(env.T, env.C)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrCodec, env.T, err)
	}
	return env.Vhost, cmd, nil
}

func decodeBody(tag string, raw []byte) (Command, error) {
	switch tag {
	case "declare_exchange":
		var w declareExchangeWire
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, err
		}
		kind, err := exchange.ParseKind(w.Kind)
		if err != nil {
			return nil, err
		}
		args, err := decodeArgs(w.Args)
		return DeclareExchange{Name: w.Name, Kind: kind, Durable: w.Durable, AutoDelete: w.AutoDelete, Internal: w.Internal, Args: args}, err
	case "declare_queue":
		var w declareQueueWire
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, err
		}
		args, err := decodeArgs(w.Args)
		return DeclareQueue{Name: w.Name, Durable: w.Durable, Exclusive: w.Exclusive, AutoDelete: w.AutoDelete, Args: args}, err
	case "delete_queue":
		var w deleteQueueWire
		err := json.Unmarshal(raw, &w)
		return DeleteQueue{Name: w.Name, IfUnused: w.IfUnused, IfEmpty: w.IfEmpty}, err
	case "bind", "unbind":
		var w bindWire
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, err
		}
		args, err := decodeArgs(w.Args)
		if err != nil {
			return nil, err
		}
		dest := exchange.Destination{Exchange: w.ToExchange, Name: w.Dest}
		if tag == "bind" {
			return Bind{Source: w.Source, Destination: dest, Key: w.Key, Args: args}, nil
		}
		return Unbind{Source: w.Source, Destination: dest, Key: w.Key, Args: args}, nil
	}
	p := newCommand(tag)
	if p == nil {
		return nil, fmt.Errorf("unknown command %q", tag)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	// The pointer's element is the command.
	return reflect.ValueOf(p).Elem().Interface().(Command), nil
}
