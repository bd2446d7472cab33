package storage

import (
	"fmt"
	"testing"
)

func TestEntriesReadsAheadFromASeq(t *testing.T) {
	s := openT(t, t.TempDir())
	recoverAll(t, s)
	var b Batch
	for id := uint64(1); id <= 20; id++ {
		b.PutMessage(id, body(id, 600))
		b.PutEntry(1, id, id, []byte{byte(id)})
		b.PutEntry(2, id, id, nil)
	}
	b.PutEntry(1, 21, 99, nil) // its message is missing
	applyT(t, s, &b)
	b.Reset()
	for id := uint64(1); id <= 10; id++ { // acked in queue 1
		b.DeleteEntry(1, id)
	}
	applyT(t, s, &b)

	got, err := s.Entries(1, 5, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range got {
		seqs = append(seqs, r.Seq)
		if r.MsgID != r.Seq || string(r.Meta) != string([]byte{byte(r.Seq)}) || string(r.Message) != string(body(r.Seq, 600)) {
			t.Fatalf("record %+v", r)
		}
	}
	if fmt.Sprint(seqs) != "[11 12 13 14]" {
		t.Fatalf("seqs %v, want [11 12 13 14]", seqs)
	}
	// A byte limit stops after the entry that reaches it: 600-byte bodies,
	// 1000 bytes: two of them.
	got, err = s.Entries(1, 5, 10, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 11 || got[1].Seq != 12 {
		t.Fatalf("with a 1000-byte limit: %d records", len(got))
	}
	got, err = s.Entries(1, 20, 10, 0) // the end of queue 1, not into queue 2
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Seq != 21 || got[1].Message != nil {
		t.Fatalf("tail %+v", got)
	}
}
