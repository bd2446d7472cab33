package binding

import (
	"testing"
)

func TestDirect(t *testing.T) {
	var x Direct[string]
	if got := x.Match("a", nil); len(got) != 0 {
		t.Fatalf("Match on empty Direct = %v", got)
	}
	if x.Remove("a", "q") {
		t.Fatal("Remove on empty Direct = true")
	}
	if !x.Add("a", "q1") || x.Add("a", "q1") {
		t.Fatal("Add must report true then false for the same pair")
	}
	x.Add("a", "q2")
	x.Add("", "q3")
	x.Add("a.b", "q1")
	if x.Len() != 4 {
		t.Fatalf("Len = %d, want 4", x.Len())
	}
	tests := []struct {
		key  string
		want []string
	}{
		{"a", []string{"q1", "q2"}},
		{"", []string{"q3"}}, // the empty key is an ordinary key
		{"a.b", []string{"q1"}},
		{"A", nil},
		{"a.*", nil},
		{"#", nil},
	}
	for _, tt := range tests {
		if got := x.Match(tt.key, nil); !sameSet(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	out := x.Match("a", []string{"keep"})
	if out[0] != "keep" || len(out) != 3 {
		t.Fatalf("Match must append: %v", out)
	}
	if !x.Remove("a", "q1") || x.Remove("a", "q1") || x.Remove("b", "q1") {
		t.Fatal("Remove must report true, then false")
	}
	x.Remove("a", "q2")
	if _, ok := x.keys["a"]; ok {
		t.Fatal("empty key set not dropped")
	}
	if x.Len() != 2 {
		t.Fatalf("Len = %d, want 2", x.Len())
	}
}

func TestDirectManyDestinations(t *testing.T) {
	var x Direct[int]
	for d := range 100 {
		x.Add("k", d)
	}
	for d := 0; d < 100; d += 2 {
		if !x.Remove("k", d) {
			t.Fatalf("Remove(k, %d) = false", d)
		}
	}
	var want []int
	for d := 1; d < 100; d += 2 {
		want = append(want, d)
		if x.Add("k", d) {
			t.Fatalf("Add(k, %d) = true for a present pair", d)
		}
	}
	if got := x.Match("k", nil); !sameSet(got, want) {
		t.Fatalf("Match = %v, want %v", got, want)
	}
	out := make([]int, 0, 64)
	if allocs := testing.AllocsPerRun(100, func() { out = x.Match("k", out[:0]) }); allocs != 0 {
		t.Fatalf("Match allocates %v times per call", allocs)
	}
}
