package broker

import (
	"github.com/warrenmq/warren/amqp"
)

// User limits (rabbitmq: rabbitmqctl set_user_limits): max-connections and
// max-channels per user, over all vhosts and connections. The counts are
// the front ends'; the limits are the stored user's (User.Limits).

// userCounts are the open connections and channels of each user.
type userCounts struct {
	conns, chans map[string]int64
}

// userLimit is the user's limit name, or -1 for none.
func (b *Broker) userLimit(user, name string) int64 {
	u, ok := b.User(user)
	if !ok {
		return -1
	}
	switch n := u.Limits[name].(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return -1
}

// OpenUserConnection counts a connection of user, refusing it past the
// user's max-connections with RabbitMQ's 530. CloseUserConnection
// uncounts it.
func (b *Broker) OpenUserConnection(user string) error {
	max := b.userLimit(user, "max-connections")
	b.uc.Lock()
	defer b.uc.Unlock()
	if max >= 0 && b.uc.counts.conns[user] >= max {
		return amqp.Errorf(amqp.NotAllowed, "connection refused for user '%s': user connection limit (%d) is reached", user, max)
	}
	if b.uc.counts.conns == nil {
		b.uc.counts.conns = map[string]int64{}
	}
	b.uc.counts.conns[user]++
	return nil
}

// CloseUserConnection uncounts a connection counted by OpenUserConnection.
func (b *Broker) CloseUserConnection(user string) {
	b.uc.Lock()
	defer b.uc.Unlock()
	if b.uc.counts.conns[user]--; b.uc.counts.conns[user] <= 0 {
		delete(b.uc.counts.conns, user)
	}
}

// OpenUserChannel counts a channel of user, refusing it past the user's
// max-channels with RabbitMQ's 530 (a connection error). CloseUserChannel
// uncounts it.
func (b *Broker) OpenUserChannel(user string) error {
	max := b.userLimit(user, "max-channels")
	b.uc.Lock()
	defer b.uc.Unlock()
	if max >= 0 && b.uc.counts.chans[user] >= max {
		return amqp.Errorf(amqp.NotAllowed, "number of channels opened for user '%s' has reached the maximum allowed user limit of (%d)", user, max)
	}
	if b.uc.counts.chans == nil {
		b.uc.counts.chans = map[string]int64{}
	}
	b.uc.counts.chans[user]++
	return nil
}

// CloseUserChannel uncounts a channel counted by OpenUserChannel.
func (b *Broker) CloseUserChannel(user string) {
	b.uc.Lock()
	defer b.uc.Unlock()
	if b.uc.counts.chans[user]--; b.uc.counts.chans[user] <= 0 {
		delete(b.uc.counts.chans, user)
	}
}

// UserConnections is how many connections user has open (counted by
// OpenUserConnection, over every protocol).
func (b *Broker) UserConnections(user string) int64 {
	b.uc.Lock()
	defer b.uc.Unlock()
	return b.uc.counts.conns[user]
}
