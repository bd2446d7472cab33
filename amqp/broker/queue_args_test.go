package broker

import (
	"testing"

	"github.com/warrenmq/warren/amqp"
)

func TestCheckConsumerTimeoutArg(t *testing.T) {
	for _, c := range []struct {
		v      any
		reason string
	}{
		{int32(1000), ""},
		{int64(0), ""},
		{uint8(5), ""},
		{int32(-1), "{value_negative,-1}"},
		{"1000", "{unacceptable_type,longstr}"},
		{1.5, "{unacceptable_type,double}"},
	} {
		reason, ok := checkConsumerTimeoutArg(amqp.Table{"x-consumer-timeout": c.v})
		if reason != c.reason || ok != (c.reason == "") {
			t.Errorf("x-consumer-timeout=%#v: %q %t, want %q", c.v, reason, ok, c.reason)
		}
	}
	if _, ok := checkConsumerTimeoutArg(nil); !ok {
		t.Errorf("no argument is invalid")
	}
}
