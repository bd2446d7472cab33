package management

import (
	"context"
	"time"
)

// ClusterFigures is a Cluster that carries each node's own figures
// (nodeJSON: memory, uptime, file descriptors, ...) to the others, so
// that /api/nodes shows every member's, as RabbitMQ's does: New hands it
// this node's with ServeFigures; PeerFigures asks the running members
// for theirs, and a member that does not answer before ctx ends shows
// running=false.
type ClusterFigures interface {
	ServeFigures(local func() map[string]any)
	PeerFigures(ctx context.Context) map[string]map[string]any
}

// peerFiguresWait bounds /api/nodes' wait for the members' answers.
const peerFiguresWait = 500 * time.Millisecond

// peerFigures are the other members' own figures, by name; nil when the
// cluster does not carry them (then running is the cluster's liveness).
func (s *Server) peerFigures(st ClusterStatus) map[string]map[string]any {
	cf, ok := s.cfg.Cluster.(ClusterFigures)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerFiguresWait)
	defer cancel()
	out := cf.PeerFigures(ctx)
	if out == nil {
		out = map[string]map[string]any{}
	}
	return out
}
