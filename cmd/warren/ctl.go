package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// `warren ctl`: the command line over the management HTTP API (the same
// paths as RabbitMQ 3.10's, plus Warren's move endpoint). The verbs are
// in ctl_verbs.go (definitions and admin), ctl_list.go (listings and the
// table format) and ctl_message.go (publish, get, move); the HTTP client
// is ctl_client.go.

// Exit codes scripts can trust.
const (
	exitOK          = 0 // done
	exitRefused     = 1 // the API refused the operation: its reason on stderr
	exitUsage       = 2 // bad usage: a missing argument, an unknown verb or flag
	exitUnreachable = 3 // cannot reach the API
)

const ctlUsage = `Usage: warren ctl [flags] VERB [OBJECT] [ARGS]

Talks to Warren's (or RabbitMQ's) management HTTP API.

Verbs:
  list queues|exchanges|bindings|connections|channels|consumers|users|vhosts|policies|permissions
                                        [--vhost V] [--columns a,b,c] [--format table|json]
  declare queue NAME                    [--type classic|quorum|stream] [--durable] [--auto-delete] [--arguments JSON]
  declare exchange NAME                 [--type direct|fanout|topic|headers|...] [--durable] [--auto-delete] [--internal] [--arguments JSON]
  declare binding --source X --destination D [--destination-type queue|exchange] [--routing-key K] [--arguments JSON]
  delete queue NAME [--if-empty] [--if-unused] | delete exchange NAME [--if-unused]
  delete binding --source X --destination D [--destination-type queue|exchange] [--routing-key K] [--arguments JSON]
  purge queue NAME
  publish [BODY]                        [--exchange X] [--routing-key K] [--properties JSON] [--persistent]
                                        (the body from stdin when no BODY is given)
  get QUEUE                             [--count N] [--ackmode ack_requeue_true|ack_requeue_false|reject_requeue_true|reject_requeue_false]
  move QUEUE --to-queue Q | --to-exchange X [--routing-key K] | --to-origin  [--count N] [--copy]
                                        (origin: the exchange and routing keys of each message's newest x-death)
  close connection NAME                 [--reason TEXT]
  export definitions [FILE]             (stdout when no FILE or "-")
  import definitions [FILE]             (stdin when no FILE or "-")
  set policy NAME --pattern RE --definition JSON [--priority N] [--apply-to queues|exchanges|all]
  clear policy NAME
  add user NAME PASSWORD [--tags a,b] | delete user NAME
  set permissions USER [--configure RE] [--write RE] [--read RE] | clear permissions USER
  add vhost NAME | delete vhost NAME
  set-memory-high-watermark FRACTION | [absolute] SIZE
                                        (as rabbitmqctl set_vm_memory_high_watermark; at once)
  set-disk-free-limit SIZE | mem_relative FACTOR
                                        (as rabbitmqctl set_disk_free_limit; at once)
  cluster status                        members (voter/learner), leader, term, commit and applied
                                        index; from the leader also each member's match index and lag
  cluster join NAME=ADDR                add the node NAME (started empty with --cluster-join, its peer
                                        link on ADDR) to the cluster of --api's node: a learner, then
                                        a voter once caught up (rabbitmqctl join_cluster, run on a member)
  cluster leave NAME                    remove NAME from the cluster (rabbitmqctl forget_cluster_node);
                                        its Raft stops

The vhost of an operation is --vhost (default "/"); a listing without
--vhost lists every vhost.

Global flags (also from the environment):
  --api URL          WARREN_API_URL        (default http://127.0.0.1:15672)
  --user NAME        WARREN_API_USER       (default guest)
  --password PASS    WARREN_API_PASSWORD   (default guest)
  --format FORMAT    table (aligned columns, the default) or json (the API's JSON)

Exit codes:
  0  done
  1  the API refused the operation (its reason on stderr)
  2  bad usage
  3  cannot reach the API
`

// ctlOpts are the parsed flags of one `warren ctl` run.
type ctlOpts struct {
	api, user, password string
	format, columns     string
	vhost               string
	vhostSet            bool

	// declare, delete
	kind, arguments               string
	durable, autoDelete, internal bool
	ifEmpty, ifUnused             bool
	source, destination, destType string
	routingKey                    string
	exchange, properties          string
	persistent                    bool
	count                         int
	ackmode                       string
	toQueue, toExchange           string
	toOrigin, copy                bool
	reason                        string
	pattern, definition, applyTo  string
	priority                      int
	tags                          string
	configure, write, read        string
}

// ctl is one `warren ctl` run.
type ctl struct {
	o      ctlOpts
	args   []string // positional: verb, object, names
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	http   *http.Client
	header http.Header // extra request headers (close's X-Reason)
}

// usageError is bad usage: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// ctlMain runs `warren ctl args` and returns the exit code.
func ctlMain(args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	c := &ctl{stdin: stdin, stdout: stdout, stderr: stderr, http: &http.Client{Timeout: 5 * time.Minute}}
	fs := c.flags(lookupEnv)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, ctlUsage)
			return exitOK
		}
		fmt.Fprintf(stderr, "warren ctl: %v\n(warren ctl --help for the verbs)\n", err)
		return exitUsage
	}
	c.o.vhostSet = fs.Changed("vhost")
	c.args = fs.Args()
	err := c.dispatch()
	var ue *usageError
	var re *refusedError
	var ne *unreachableError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "warren ctl: %v\n(warren ctl --help for the verbs)\n", err)
		return exitUsage
	case errors.As(err, &re):
		fmt.Fprintf(stderr, "warren ctl: %v\n", err)
		return exitRefused
	case errors.As(err, &ne):
		fmt.Fprintf(stderr, "warren ctl: %v\n", err)
		return exitUnreachable
	default:
		fmt.Fprintf(stderr, "warren ctl: %v\n", err)
		return exitRefused
	}
}

func (c *ctl) flags(lookupEnv func(string) (string, bool)) *pflag.FlagSet {
	env := func(k, def string) string {
		if v, ok := lookupEnv(k); ok && v != "" {
			return v
		}
		return def
	}
	o := &c.o
	fs := pflag.NewFlagSet("warren ctl", pflag.ContinueOnError)
	fs.StringVar(&o.api, "api", env("WARREN_API_URL", "http://127.0.0.1:15672"), "the management API's URL")
	fs.StringVar(&o.user, "user", env("WARREN_API_USER", "guest"), "API user")
	fs.StringVar(&o.password, "password", env("WARREN_API_PASSWORD", "guest"), "API password")
	fs.StringVar(&o.format, "format", "table", "table or json")
	fs.StringVar(&o.columns, "columns", "", "the columns of a listing, comma-separated (dots reach into objects)")
	fs.StringVar(&o.vhost, "vhost", "/", "the vhost")
	fs.StringVar(&o.kind, "type", "", "queue type or exchange type")
	fs.StringVar(&o.arguments, "arguments", "", "arguments as a JSON object")
	fs.BoolVar(&o.durable, "durable", true, "durable")
	fs.BoolVar(&o.autoDelete, "auto-delete", false, "auto-delete")
	fs.BoolVar(&o.internal, "internal", false, "internal exchange")
	fs.BoolVar(&o.ifEmpty, "if-empty", false, "delete only if empty")
	fs.BoolVar(&o.ifUnused, "if-unused", false, "delete only if unused")
	fs.StringVar(&o.source, "source", "", "binding source exchange")
	fs.StringVar(&o.destination, "destination", "", "binding destination")
	fs.StringVar(&o.destType, "destination-type", "queue", "queue or exchange")
	fs.StringVar(&o.routingKey, "routing-key", "", "routing key")
	fs.StringVar(&o.exchange, "exchange", "", "exchange to publish to (default: the default exchange)")
	fs.StringVar(&o.properties, "properties", "", "message properties as a JSON object")
	fs.BoolVar(&o.persistent, "persistent", false, "delivery_mode 2")
	fs.IntVar(&o.count, "count", -1, "how many messages (get: 1; move: all)")
	fs.StringVar(&o.ackmode, "ackmode", "ack_requeue_true", "get's ackmode")
	fs.StringVar(&o.toQueue, "to-queue", "", "move to this queue")
	fs.StringVar(&o.toExchange, "to-exchange", "", "move to this exchange (with --routing-key)")
	fs.BoolVar(&o.toOrigin, "to-origin", false, "move each message back to where it was dead-lettered from")
	fs.BoolVar(&o.copy, "copy", false, "copy, leaving the source's messages")
	fs.StringVar(&o.reason, "reason", "Closed via warren ctl", "close reason")
	fs.StringVar(&o.pattern, "pattern", "", "policy pattern")
	fs.StringVar(&o.definition, "definition", "", "policy definition as a JSON object")
	fs.IntVar(&o.priority, "priority", 0, "policy priority")
	fs.StringVar(&o.applyTo, "apply-to", "all", "policy apply-to")
	fs.StringVar(&o.tags, "tags", "", "user tags, comma-separated")
	fs.StringVar(&o.configure, "configure", ".*", "configure permission")
	fs.StringVar(&o.write, "write", ".*", "write permission")
	fs.StringVar(&o.read, "read", ".*", "read permission")
	return fs
}

// dispatch runs the verb.
func (c *ctl) dispatch() error {
	if c.o.format != "table" && c.o.format != "json" {
		return usagef("--format: want table or json, got %q", c.o.format)
	}
	if len(c.args) == 0 {
		return usagef("no verb")
	}
	verb, rest := c.args[0], c.args[1:]
	obj := ""
	if len(rest) > 0 {
		obj = rest[0]
	}
	switch verb {
	case "list":
		return c.list(obj, rest)
	case "declare":
		return c.declare(obj, rest)
	case "delete":
		return c.delete(obj, rest)
	case "purge":
		return c.purge(obj, rest)
	case "publish":
		return c.publish(rest)
	case "get":
		return c.get(rest)
	case "move":
		return c.move(rest)
	case "close":
		return c.closeConn(obj, rest)
	case "export":
		return c.export(obj, rest)
	case "import":
		return c.importDefs(obj, rest)
	case "set", "clear":
		return c.setClear(verb, obj, rest)
	case "add":
		return c.add(obj, rest)
	case "set-memory-high-watermark": // ctl_alarms.go
		return c.setMemoryHighWatermark(rest)
	case "set-disk-free-limit":
		return c.setDiskFreeLimit(rest)
	case "cluster": // ctl_cluster.go
		return c.cluster(rest)
	}
	return usagef("unknown verb %q", verb)
}

// names checks that rest (the object word, then names) holds exactly n
// names, and returns them.
func names(rest []string, n int, what string) ([]string, error) {
	if len(rest) < 1 || len(rest)-1 != n {
		return nil, usagef("want %s", what)
	}
	return rest[1:], nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
