package storage

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Small Badger files, so that memtables and value-log files rotate while
// the child publishes; bodies of 2 KiB and more (about a third of them) go
// to body files of 64 KiB, so that those rotate and are deleted too.
func crashOptions(dir string) Options {
	return Options{Dir: dir, MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20, GCInterval: -1,
		BodyThreshold: 2 << 10, BodySegmentSize: 64 << 10}
}

func crashBodySize(id uint64) int { return 100 + int(id*37%3000) }

// crashChild publishes until killed. Each message goes to queues 1 and 2.
// It prints "ready", "p <id>" before it submits a publish, "c <id>" when
// the publish is confirmed, "k <id>"
// before it submits an ack (delete of both entries and the message) and
// "a <id>" when the ack is confirmed. Every
// third message is acked after its confirm, every seventh right after
// its publish (usually cancelled in the same group).
func crashChild(dir string) int {
	s, err := Open(crashOptions(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	st, err := s.Recover(func(q, seq, id uint64, meta []byte) error { return nil })
	if err != nil {
		fmt.Fprintln(os.Stderr, "recover:", err)
		return 2
	}
	var mu sync.Mutex // one line per write
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format, args...)
		mu.Unlock()
	}
	say("ready %d\n", st.MaxMsgID)
	var next atomic.Uint64
	next.Store(st.MaxMsgID)
	ack := func(id uint64) {
		say("k %d\n", id)
		var b Batch
		b.DeleteEntry(1, id)
		b.DeleteEntry(2, id)
		b.DeleteMessage(id)
		s.Submit(&b, func(err error) {
			if err == nil {
				say("a %d\n", id)
			}
		})
	}
	for range 4 {
		go func() {
			window := make(chan struct{}, 32) // confirms outstanding per publisher
			for {
				window <- struct{}{}
				id := next.Add(1)
				say("p %d\n", id)
				var b Batch
				b.PutMessage(id, body(id, crashBodySize(id)))
				b.PutEntry(1, id, id, nil)
				b.PutEntry(2, id, id, nil)
				err := s.Submit(&b, func(err error) {
					if err == nil {
						say("c %d\n", id)
						if id%3 == 0 {
							ack(id)
						}
					}
					<-window
				})
				if err != nil {
					return
				}
				if id%7 == 0 {
					ack(id)
				}
			}
		}()
	}
	time.Sleep(2 * time.Minute) // the parent kills us long before
	fmt.Fprintln(os.Stderr, "child not killed")
	return 3
}

// The child is killed with SIGKILL mid-stream; every confirmed message
// must then be on disk exactly once per queue, in order, and no
// confirmed ack may come back. Five cycles on the same directory.
func TestCrashKill9KeepsEveryConfirmedMessage(t *testing.T) {
	dir := t.TempDir()
	confirmed := map[uint64]bool{}
	acked := map[uint64]bool{}        // ack confirmed: must never come back
	ackSubmitted := map[uint64]bool{} // may or may not come back
	for cycle := range 6 {
		target := 300 + cycle*400 // confirms to see before the kill
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		published, confirms, acks, killed := 0, 0, 0, false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				t.Fatalf("child said %q", sc.Text())
			}
			id, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			switch f[0] {
			case "ready":
			case "p":
				published++
			case "c":
				confirmed[id] = true
				confirms++
			case "k":
				ackSubmitted[id] = true
			case "a":
				acked[id] = true
				acks++
			}
			if !killed && confirms >= target {
				cmd.Process.Kill() // SIGKILL; keep reading what it wrote before
				killed = true
			}
		}
		io.Copy(io.Discard, out)
		err = cmd.Wait()
		if !killed {
			t.Fatalf("cycle %d: child ended before the kill: %v\n%s", cycle, err, stderr.String())
		}

		s, err := Open(crashOptions(dir))
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		perQueue := map[uint64][]uint64{}
		st, err := s.Recover(func(q, seq, id uint64, meta []byte) error {
			if seq != id {
				t.Errorf("entry q%d/%d holds message %d", q, seq, id)
			}
			perQueue[q] = append(perQueue[q], id)
			return nil
		})
		if err != nil {
			t.Fatalf("cycle %d: recover: %v", cycle, err)
		}
		duplicates, lost, resurrected, disorder := 0, 0, 0, 0
		present := map[uint64]map[uint64]bool{}
		for q, ids := range perQueue {
			present[q] = map[uint64]bool{}
			for i, id := range ids {
				if present[q][id] {
					duplicates++
				}
				present[q][id] = true
				if i > 0 && ids[i-1] >= id {
					disorder++
				}
			}
		}
		var check []uint64
		for id := range confirmed {
			for _, q := range []uint64{1, 2} {
				switch {
				case acked[id] && present[q][id]:
					resurrected++
				case !ackSubmitted[id] && !present[q][id]:
					lost++
				}
			}
			if !ackSubmitted[id] {
				check = append(check, id)
			}
		}
		bodies, err := s.Messages(check)
		if err != nil {
			t.Fatalf("cycle %d: reading confirmed messages: %v", cycle, err)
		}
		for i, b := range bodies {
			if string(b) != string(body(check[i], crashBodySize(check[i]))) {
				t.Fatalf("cycle %d: message %d has a wrong body", cycle, check[i])
			}
		}
		t.Logf("cycle %d: published=%d confirmed=%d acked=%d | recovered: q1=%d q2=%d messages=%d orphans=%d dangling=%d in %v | duplicates=%d lost=%d resurrected=%d out-of-order=%d",
			cycle, published, confirms, acks, len(perQueue[1]), len(perQueue[2]), st.Messages, st.Orphans, st.Dangling,
			st.Duration.Round(time.Millisecond), duplicates, lost, resurrected, disorder)
		if duplicates+lost+resurrected+disorder+st.Dangling > 0 {
			t.Fatalf("cycle %d: durability violated", cycle)
		}
		if m := s.Metrics(); st.Messages > 100 && m.BodySegments == 0 {
			t.Fatalf("cycle %d: %d messages kept and no body file: the large ones were not written to body files", cycle, st.Messages)
		}
		if n := unreferencedSegments(t, s); n > 0 {
			t.Fatalf("cycle %d: %d body files on disk hold no live body after recovery", cycle, n)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
