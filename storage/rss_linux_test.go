//go:build linux

package storage

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKB reads RssFile (resident pages of mapped files) of this process.
func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// Written value-log pages stay mapped, and resident, until released; the
// data is still there afterwards.
func TestReleaseMappingsDropsResidentPagesKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, func(o *Options) { o.ReleaseInterval, o.BodyThreshold = -1, -1 }) // bodies in the value log
	var b Batch
	body := make([]byte, 64<<10)
	for i := range body {
		body[i] = byte(i)
	}
	for id := uint64(1); id <= 400; id++ { // 25 MiB of bodies in the value log
		b.PutMessage(id, body)
		b.PutEntry(1, id, id, nil)
		applyT(t, s, &b)
		b.Reset()
	}
	before := rssFileKB(t)
	released, err := releaseMappings(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	if released == 0 {
		t.Fatal("no mapping of the store's files was found to release")
	}
	if after >= before-10<<10 {
		t.Fatalf("RssFile %d KiB -> %d KiB: under 10 MiB released of 25 MiB written", before, after)
	}
	got, err := s.Message(123)
	if err != nil || string(got) != string(body) {
		t.Fatalf("message after release: %v (len %d)", err, len(got))
	}
}
