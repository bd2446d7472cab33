package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/alarm"
	"github.com/warrenmq/warren/storage"
)

// config is what the flags, the WARREN_* environment and the JSON file
// resolve to. Each scalar field is bound to the flag of the same name.
type config struct {
	fs *pflag.FlagSet

	listen          string
	dataDir         string
	configPath      string
	logLevel        string
	logFormat       string
	heartbeat       uint16
	frameMax        uint32
	channelMax      uint16
	maxMessageSize  int
	pprof           string
	promListen      string
	memoryBudget    int64
	consumerTimeout time.Duration
	maxConnections  int
	handshakeRate   float64
	handshakeBurst  int
	diskFreeLimit   byteSize
	memoryWatermark watermarkValue
	tlsListen       string
	tlsCert         string
	tlsKey          string
	tlsCA           string
	tlsClientAuth   string
	tlsExternal     string
	// --tls-external-san-type and --tls-external-san-index (tls.go)
	tlsExternalSANType  string
	tlsExternalSANIndex int
	promTLS             bool
	mgmtTLS             bool
	version             bool

	// The management HTTP API (amqp/management).
	managementListen string
	// The stream protocol (amqp/streamserver).
	streamListen string
	// --stream-tls-listen: the stream protocol over TLS (stream.go).
	streamTLSListen string

	// From the file only.
	vhosts        []string
	users         []userConfig
	loopbackUsers []string

	loadDefinitions string // --load-definitions

	// A cluster (cluster.go): no peers, no Raft.
	nodeName      string
	clusterListen string
	clusterPeers  string
	clusterJoin   bool
}

// The configuration file is a JSON object. Each flag is a key, its name
// with '_' for '-' ("data_dir" for --data-dir); numbers are JSON numbers,
// durations strings such as "30m". Beside them the file holds the
// structured keys below, which no flag sets. An unknown key is an error.
const (
	keyVhosts        = "vhosts"         // ["/", "orders"]
	keyUsers         = "users"          // [userConfig, ...]
	keyLoopbackUsers = "loopback_users" // ["guest"]
)

// Flags the environment or the file do not set.
var (
	envIgnores  = map[string]string{"version": "an action, not a setting"}
	fileRefuses = map[string]string{"config": "the file cannot name itself", "version": "an action, not a setting"}
)

// userConfig is one entry of the file's "users".
type userConfig struct {
	Name string `json:"name"`
	// Password is hashed at start-up; PasswordHash is RabbitMQ's
	// rabbit_password_hashing_sha256 format (base64 of salt + SHA-256).
	Password     string   `json:"password,omitempty"`
	PasswordHash string   `json:"password_hash,omitempty"`
	Vhosts       []string `json:"vhosts,omitempty"`
	// Tags are RabbitMQ's user tags (administrator, monitoring,
	// management, policymaker): what the management API lets the user do.
	Tags []string `json:"tags,omitempty"`
}

// newFlagSet defines every flag, bound to c.
func newFlagSet(c *config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("warren", pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: warren [flags]\n\nWarren is an AMQP 0-9-1 message broker.\n"+
			"Every flag can also be set as WARREN_<FLAG> in the environment (e.g. WARREN_LISTEN),\n"+
			"or in the JSON file given by --config; flags win over the environment, which wins over the file.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.listen, "listen", ":5672", "address to accept AMQP connections on")
	fs.StringVar(&c.managementListen, "management-listen", ":15672", `address of the management HTTP API (RabbitMQ's); "" or "off" disables it`)
	fs.StringVar(&c.streamListen, "stream-listen", ":5552", `address of the stream protocol (RabbitMQ's, for stream clients); "" or "off" disables it`)
	fs.StringVar(&c.streamTLSListen, "stream-tls-listen", "auto", `address of the stream protocol over TLS, with --tls-cert, --tls-key, --tls-ca, --tls-client-auth and EXTERNAL as --tls-listen; auto: :5551 when --tls-listen is set (RabbitMQ's stream.listeners.ssl.default); "" or "off" disables it`)
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for durable state")
	fs.StringVar(&c.configPath, "config", "", "JSON configuration file (users, vhosts, limits)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "console", "log format: console or json")
	fs.Uint16Var(&c.heartbeat, "heartbeat", 60, "heartbeat interval in seconds offered to clients (0 disables)")
	fs.Uint32Var(&c.frameMax, "frame-max", 131072, "largest frame in bytes offered to clients")
	fs.Uint16Var(&c.channelMax, "channel-max", 2047, "most channels per connection")
	fs.IntVar(&c.maxMessageSize, "max-message-size", 16<<20, "largest message body in bytes")
	fs.StringVar(&c.pprof, "pprof", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off when empty")
	fs.StringVar(&c.promListen, "prometheus-listen", ":15692", "serve Prometheus metrics (/metrics, /metrics/per-object, /metrics/detailed, as rabbitmq_prometheus) on this address; \"\" or \"off\" disables")
	fs.Int64Var(&c.memoryBudget, "memory-budget", 128<<20, "bytes of ready messages kept in memory (bodies plus 128 bytes each); beyond it bodies live on disk only")
	fs.DurationVar(&c.consumerTimeout, "consumer-timeout", 30*time.Minute, "how long a delivery may stay unacknowledged before its channel is closed; 0 disables (a queue's x-consumer-timeout overrides it)")
	fs.IntVar(&c.maxConnections, "max-connections", 0, "cap on open client connections (RabbitMQ's connection_max); more are closed at accept; 0: none")
	fs.Float64Var(&c.handshakeRate, "handshake-rate", 0, "new connections per second one source address may open after a burst of --handshake-burst; more are closed at accept; 0: no limit")
	fs.IntVar(&c.handshakeBurst, "handshake-burst", 20, "connections one source address may open at once before --handshake-rate applies")
	c.diskFreeLimit = storage.DefaultMinFreeBytes
	fs.Var(&c.diskFreeLimit, "disk-free-limit", "free disk space the store keeps; below it the disk alarm blocks publishing connections (connection.blocked) and persistent publishes are refused (nacked) until space comes back")
	fs.StringVar(&c.loadDefinitions, "load-definitions", "", "import this definitions file (RabbitMQ's JSON format) at every start, as RabbitMQ's load_definitions")
	c.memoryWatermark.w = alarm.DefaultWatermark
	fs.Var(&c.memoryWatermark, "memory-high-watermark", "memory alarm threshold: a fraction of the machine's or cgroup's memory (0.6) or a size (2GiB); above it publishing connections are blocked (connection.blocked) until memory falls back")
	fs.StringVar(&c.tlsListen, "tls-listen", "", "accept AMQP over TLS (amqps) on this address, beside --listen (e.g. :5671); off when empty")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate (chain) of every TLS listener; SIGHUP reloads it")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "PEM CA certificates client certificates are verified against")
	fs.StringVar(&c.tlsClientAuth, "tls-client-auth", "none", "client certificates on --tls-listen: none, request (verified if given) or require")
	fs.StringVar(&c.tlsExternal, "tls-external-identity", "off", "offer the EXTERNAL mechanism on --tls-listen, the user named by the client certificate's distinguished_name, common_name (cn) or subject_alternative_name (san); off: not offered")
	fs.StringVar(&c.tlsExternalSANType, "tls-external-san-type", "dns", "with --tls-external-identity subject_alternative_name: the type of name, dns, ip, email or uri")
	fs.IntVar(&c.tlsExternalSANIndex, "tls-external-san-index", 0, "with --tls-external-identity subject_alternative_name: which name of that type, from 0")
	fs.BoolVar(&c.promTLS, "prometheus-tls", false, "serve --prometheus-listen over HTTPS with --tls-cert and --tls-key (no client certificate asked)")
	fs.BoolVar(&c.mgmtTLS, "management-tls", false, "serve --management-listen over HTTPS with --tls-cert and --tls-key (no client certificate asked)")
	fs.StringVar(&c.nodeName, "node-name", "", "this node's name in a cluster (default warren@<host name>)")
	fs.StringVar(&c.clusterListen, "cluster-listen", "", "address for the cluster's peer link (Raft) (default: this node's address in --cluster-peers); alone, without --cluster-peers: a cluster of one that other nodes can join")
	fs.StringVar(&c.clusterPeers, "cluster-peers", "", "the cluster's initial members, NAME=ADDR,... (their --node-name and --cluster-listen; the same list on every node, itself included); with --cluster-join: members of the running cluster to reach; empty (and no --cluster-listen): a single node, no Raft")
	fs.BoolVar(&c.clusterJoin, "cluster-join", false, "start empty and wait to be added to the running cluster named by --cluster-peers, then catch up from its leader (a snapshot, then the log); add it with `warren ctl --api MEMBER cluster join NAME=ADDR` (rabbitmqctl join_cluster, but run against a member); ignored once the node has joined")
	fs.BoolVar(&c.version, "version", false, "print the version, the VCS commit and the Go version, then exit")
	return fs
}

// loadConfig parses args, then fills every flag they leave unset from its
// WARREN_* variable (looked up with lookupEnv), else from its key in the
// file given by --config or WARREN_CONFIG, else leaves its default. It
// returns pflag.ErrHelp after printing the usage for --help, and stops
// after the flags for --version.
func loadConfig(args []string, lookupEnv func(string) (string, bool)) (*config, error) {
	c := &config{}
	fs := newFlagSet(c)
	c.fs = fs
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.version {
		return c, nil
	}
	if err := setFromEnv(fs, fs.Lookup("config"), lookupEnv); err != nil {
		return nil, err
	}
	var file map[string]json.RawMessage
	if c.configPath != "" {
		var err error
		if file, err = c.readFile(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", c.configPath, err)
		}
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		if err = setFromEnv(fs, f, lookupEnv); err != nil || f.Changed {
			return
		}
		key := fileKey(f.Name)
		if raw, ok := file[key]; ok {
			if err = setFromFile(fs, f, raw); err != nil {
				err = fmt.Errorf("config file %s: key %q: %w", c.configPath, key, err)
			}
		}
	})
	return c, err
}

// envName is the environment variable of a flag: WARREN_DATA_DIR for
// --data-dir.
func envName(flag string) string {
	return "WARREN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// fileKey is the file's key of a flag: data_dir for --data-dir.
func fileKey(flag string) string {
	return strings.ReplaceAll(flag, "-", "_")
}

func setFromEnv(fs *pflag.FlagSet, f *pflag.Flag, lookupEnv func(string) (string, bool)) error {
	if _, skip := envIgnores[f.Name]; skip || f.Changed {
		return nil
	}
	v, ok := lookupEnv(envName(f.Name))
	if !ok {
		return nil
	}
	if err := fs.Set(f.Name, v); err != nil {
		return fmt.Errorf("%s: %w", envName(f.Name), err)
	}
	return nil
}

// setFromFile sets f from a JSON string, number or boolean.
func setFromFile(fs *pflag.FlagSet, f *pflag.Flag, raw json.RawMessage) error {
	var v string
	switch t := strings.TrimSpace(string(raw)); {
	case strings.HasPrefix(t, `"`):
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
	case t == "null" || strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{"):
		return fmt.Errorf("want a string or a number, got %s", t)
	case f.Value.Type() == "duration":
		return fmt.Errorf(`a duration is a string with a unit, such as "30m" or "10s"; got %s`, t)
	default: // a number or a boolean, as written
		v = t
	}
	return fs.Set(f.Name, v)
}

// readFile reads the configuration file: the structured keys into c, the
// rest returned by key for the flags. It refuses keys that are neither.
func (c *config) readFile() (map[string]json.RawMessage, error) {
	raw, err := os.ReadFile(c.configPath)
	if err != nil {
		return nil, err
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, jsonError(raw, err)
	}
	known := []string{keyVhosts, keyUsers, keyLoopbackUsers}
	c.fs.VisitAll(func(f *pflag.Flag) {
		if _, skip := fileRefuses[f.Name]; !skip {
			known = append(known, fileKey(f.Name))
		}
	})
	sort.Strings(known)
	keys := make([]string, 0, len(file))
	for k := range file {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		if f := c.fs.Lookup(strings.ReplaceAll(k, "_", "-")); f != nil {
			if why, ok := fileRefuses[f.Name]; ok {
				return nil, fmt.Errorf("key %q: --%s cannot be set in the file (%s)", k, f.Name, why)
			}
		}
		hint := ""
		if slices.Contains(known, strings.ReplaceAll(k, "-", "_")) {
			hint = fmt.Sprintf(`; did you mean %q?`, strings.ReplaceAll(k, "-", "_"))
		}
		return nil, fmt.Errorf("unknown key %q%s (the keys are %s)", k, hint, strings.Join(known, ", "))
	}

	for key, into := range map[string]*[]string{keyVhosts: &c.vhosts, keyLoopbackUsers: &c.loopbackUsers} {
		if v, ok := file[key]; ok {
			if err := json.Unmarshal(v, into); err != nil {
				return nil, fmt.Errorf("key %q: want a list of strings: %w", key, err)
			}
		}
	}
	if v, ok := file[keyUsers]; ok {
		var users []json.RawMessage
		if err := json.Unmarshal(v, &users); err != nil {
			return nil, fmt.Errorf("key %q: want a list of users: %w", keyUsers, err)
		}
		for i, u := range users {
			var uc userConfig
			dec := json.NewDecoder(bytes.NewReader(u))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&uc); err != nil {
				if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
					return nil, fmt.Errorf(`%s[%d]: unknown key %s (a user has "name", "password" or "password_hash", "vhosts" and "tags")`, keyUsers, i, f)
				}
				return nil, fmt.Errorf("%s[%d]: %w", keyUsers, i, err)
			}
			if uc.Name == "" {
				return nil, fmt.Errorf(`%s[%d]: a user needs a "name"`, keyUsers, i)
			}
			c.users = append(c.users, uc)
		}
	}
	return file, nil
}

// jsonError places a decoding error in the file by line and column.
func jsonError(raw []byte, err error) error {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Errorf("want a JSON object of keys, got %s", te.Value)
		}
		off = te.Offset
	default:
		return err
	}
	before := raw[:min(int(off), len(raw))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// storeOptions are the options the store is opened with.
func (c *config) storeOptions(log *zap.Logger) storage.Options {
	o := storage.Options{Dir: c.dataDir, Logger: log, MinFreeBytes: int64(c.diskFreeLimit)}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = -1 // keeping 0 bytes free is no check; storage's 0 would be its default
	}
	return o
}
