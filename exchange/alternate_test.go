package exchange

import "testing"

func TestAlternate(t *testing.T) {
	for _, c := range []struct {
		args table
		want string
	}{
		{nil, ""},
		{table{"alternate-exchange": "ae"}, "ae"},
		{table{"alternate-exchange": int32(1)}, ""},
	} {
		x := &Exchange{Name: "x", Kind: Direct, Args: c.args}
		if got := x.Alternate(); got != c.want {
			t.Errorf("Alternate() with %v = %q, want %q", c.args, got, c.want)
		}
	}
}
