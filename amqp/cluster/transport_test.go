package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

func TestBatchRoundTrip(t *testing.T) {
	in := []groupMsg{
		{1, &pb.Message{Type: pb.MessageType_MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(3)),
			Entries: []*pb.Entry{{Index: new(uint64(7)), Term: new(uint64(3)), Data: []byte("cmd")}}}},
		{42, &pb.Message{Type: pb.MessageType_MsgHeartbeat.Enum(), To: new(uint64(3))}},
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeBatch(w, in); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	frame := buf.Bytes()
	if n := binary.BigEndian.Uint32(frame); int(n) != len(frame)-4 {
		t.Fatalf("frame length %d, body %d bytes", n, len(frame)-4)
	}
	out, err := decodeBatch(frame[4:])
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].group != 1 || out[1].group != 42 || string(out[0].msg.GetEntries()[0].GetData()) != "cmd" ||
		out[1].msg.GetType() != pb.MessageType_MsgHeartbeat || out[1].msg.GetTo() != 3 {
		t.Fatalf("decoded %v", out)
	}
	// Every truncation, and trailing bytes, are refused, never a panic.
	body := frame[4:]
	for i := range len(body) {
		if _, err := decodeBatch(body[:i]); err == nil {
			t.Fatalf("a batch cut at %d of %d bytes was accepted", i, len(body))
		}
	}
	if _, err := decodeBatch(append(append([]byte{}, body...), 0)); err == nil {
		t.Fatal("trailing bytes were accepted")
	}
	if _, err := decodeBatch([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Fatal("a huge count was accepted")
	}
}

// TestPeerLinkRefusesStrangers: something else than a Warren node on the
// peer port (an HTTP client, a bad frame) is disconnected, and the
// cluster goes on.
func TestPeerLinkRefusesStrangers(t *testing.T) {
	c := newCluster(t, three, nil, three...)
	c.waitLeader()
	for _, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		append([]byte("WRNR\x01\x00\x00\x00\x00\x00\x00\x00\x09"), 0xff, 0xff, 0xff, 0xff), // a 4 GiB frame
		append([]byte("WRNR\x01\x00\x00\x00\x00\x00\x00\x00\x09"), 0, 0, 0, 3, 1, 0, 0),    // a truncated message
	} {
		conn, err := net.Dial("tcp", c.peers["a"])
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(junk)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(conn); err != nil {
			t.Fatalf("after %q the node did not close the connection: %v", junk, err)
		}
		conn.Close()
	}
	declareQueues(t, c, "a", "still", 1)
	waitQueues(t, c, "b", "still", 1)
}

// TestLinkFailureKeptWhenLoopBehind: a link failure reported while the
// loop's report channel is full is kept for the loop's next round (its
// remote consumers' deliveries are owed); a snapshot's fate, a lost
// inbound link and a refused dial are raft's and failover's to redo.
func TestLinkFailureKeptWhenLoopBehind(t *testing.T) {
	n := &Node{reportc: make(chan report), kick: make(chan struct{}, 1)}
	n.report(report{to: 3, group: 9, snapshot: true})
	n.report(report{to: 4, lost: true})
	n.report(report{to: 5, down: true})
	if n.linkFails.any.Load() {
		t.Fatalf("kept %v, want none", n.linkFails.peers)
	}
	n.report(report{to: 7})
	n.report(report{to: 7})
	if !n.linkFails.any.Load() || len(n.linkFails.peers) != 1 || !n.linkFails.peers[7] {
		t.Fatalf("kept %v, want peer 7", n.linkFails.peers)
	}
	select {
	case <-n.kick:
	default:
		t.Fatal("the loop was not woken")
	}
}
