package main

import (
	"bytes"
	"context"
	"encoding/json"
)

// The management API's ClusterFigures over the cluster node's peer link
// (amqp/cluster/nodes_status.go): /api/nodes shows every member's own
// figures.

func (a clusterAPI) ServeFigures(local func() map[string]any) {
	a.n.ServeFigures(func() []byte {
		raw, _ := json.Marshal(local())
		return raw
	})
}

func (a clusterAPI) PeerFigures(ctx context.Context) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, raw := range a.n.PeerFigures(ctx) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber() // integers stay integers in the answer
		var m map[string]any
		if d.Decode(&m) == nil {
			out[name] = m
		}
	}
	return out
}
