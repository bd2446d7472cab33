package main

import (
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	"github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"
)

// startStreamWarren starts a broker over dataDir with the stream protocol
// on a port of its own and returns the process and its stream URL.
func startStreamWarren(t *testing.T, dataDir string) (*warrenProc, string) {
	t.Helper()
	p := startWarren(t, []string{"WARREN_LOG_FORMAT=json"}, "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--stream-listen", "127.0.0.1:0")
	var addr string
	if !p.wait(func(_, errs []string) bool {
		for _, l := range errs {
			var e map[string]any
			json.Unmarshal([]byte(l), &e)
			if e["msg"] == "stream protocol listening" {
				addr, _ = e["addr"].(string)
			}
			if e["msg"] == "Warren listening" {
				return true
			}
		}
		return false
	}) || addr == "" {
		t.Fatalf("no stream protocol line before the broker listened:\n%s", p.output())
	}
	return p, "rabbitmq-stream://guest:guest@" + addr + "/"
}

// The stream protocol's server-side state survives a restart: the
// messages, a stored offset (kept in the Badger store) and a named
// publisher's sequence (deduplication goes on where it stopped).
func TestStreamStateAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	p, url := startStreamWarren(t, dir)
	env, err := stream.NewEnvironment(stream.NewEnvironmentOptions().SetUri(url))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.DeclareStream("orders", nil); err != nil {
		t.Fatal(err)
	}
	prod, err := env.NewProducer("orders", stream.NewProducerOptions().SetProducerName("shop"))
	if err != nil {
		t.Fatal(err)
	}
	confirms := prod.NotifyPublishConfirmation()
	for i := 1; i <= 20; i++ {
		m := amqp.NewMessage([]byte("order"))
		m.SetPublishingId(int64(i))
		if err := prod.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	for got := 0; got < 20; {
		cs := <-confirms
		got += len(cs)
	}
	if err := env.StoreOffset("billing", "orders", 17); err != nil {
		t.Fatal(err)
	}
	// Store offset has no response: a query on the same connection comes
	// after it.
	if off, err := env.QueryOffset("billing", "orders"); err != nil || off != 17 {
		t.Fatalf("before the restart: offset %d, %v", off, err)
	}
	prod.Close()
	env.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.output())
	}

	// Kept in the store, not in a file beside the log.
	if files, _ := filepath.Glob(filepath.Join(dir, "streams", "*", "offsets")); len(files) != 0 {
		t.Errorf("tracked offsets in files: %v", files)
	}

	_, url = startStreamWarren(t, dir)
	env, err = stream.NewEnvironment(stream.NewEnvironmentOptions().SetUri(url))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if off, err := env.QueryOffset("billing", "orders"); err != nil || off != 17 {
		t.Errorf("after the restart: offset %d, %v; want 17", off, err)
	}
	if seq, err := env.QuerySequence("shop", "orders"); err != nil || seq != 20 {
		t.Errorf("after the restart: publisher sequence %d, %v; want 20", seq, err)
	}
	st, err := env.StreamStats("orders")
	if err != nil {
		t.Fatal(err)
	}
	if last, err := st.CommittedChunkId(); err != nil || last < 0 {
		t.Errorf("after the restart: committed chunk %d, %v", last, err)
	}
}
