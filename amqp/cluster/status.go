package cluster

import (
	"slices"
	"sort"
	"time"

	"go.etcd.io/raft/v3"
)

// aliveWithin: a peer heard from (a raft message or a ping, every
// pingInterval) within this long shows as running.
const aliveWithin = 2 * time.Second

// Member is one member of the metadata group as a node sees it.
type Member struct {
	Name, Addr string
	Voter      bool // false: a learner
	Leader     bool
	// Running: this node itself; a peer heard from within aliveWithin.
	Running bool
	// Match and Lag are the leader's view, on the leader only (Known):
	// the member's log matches the leader's up to Match, Commit-Match
	// behind the commit index.
	Known      bool
	Match, Lag uint64
}

// members is the members' part of the status, rebuilt at most once a
// tick (or when the configuration changed): it is read on every round
// of the loop, and raft's full status copies the progress map.
type members struct {
	tick             uint64
	stale            bool
	voters, learners []string
	nodes            []Member
}

// fillMembers sets s's members from the configuration, with the
// leader's progress when this node leads, as of this tick.
func (l *loop) fillMembers(s *Status, st raft.BasicStatus) {
	c := &l.memberCache
	if c.stale || c.tick != l.ticks || c.nodes == nil {
		var fresh Status
		fresh.Commit = s.Commit
		l.buildMembers(&fresh, st)
		*c = members{tick: l.ticks, voters: fresh.Members, learners: fresh.Learners, nodes: fresh.Nodes}
	}
	s.Members, s.Learners, s.Nodes, s.Removed = c.voters, c.learners, c.nodes, l.removed
}

// buildMembers lists the members into s.
func (l *loop) buildMembers(s *Status, st raft.BasicStatus) {
	var full raft.Status
	leader := st.RaftState == raft.StateLeader
	if leader {
		full = l.rn.Status()
	}
	add := func(id uint64, voter bool) {
		name := l.n.names[id]
		m := Member{Name: name, Addr: l.book.Addrs[name], Voter: voter, Leader: id == st.Lead}
		m.Running = id == l.n.id || l.n.tr.heardWithin(id, aliveWithin)
		if leader {
			if pr, ok := full.Progress[id]; ok {
				m.Known, m.Match = true, pr.Match
				if s.Commit > pr.Match {
					m.Lag = s.Commit - pr.Match
				}
			}
		}
		s.Nodes = append(s.Nodes, m)
		if voter {
			s.Members = append(s.Members, name)
		} else {
			s.Learners = append(s.Learners, name)
		}
	}
	for _, id := range l.conf.GetVoters() {
		add(id, true)
	}
	for _, id := range l.conf.GetLearners() {
		add(id, false)
	}
	sort.Strings(s.Members)
	sort.Strings(s.Learners)
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
}

// clone copies s's slices.
func (s Status) clone() Status {
	s.Members, s.Learners, s.Nodes = slices.Clone(s.Members), slices.Clone(s.Learners), slices.Clone(s.Nodes)
	return s
}
