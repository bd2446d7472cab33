package conformance

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// txChannel opens a channel in tx mode on conn.
func (b *broker) txChannel(conn *amqp.Connection) *amqp.Channel {
	b.t.Helper()
	ch := b.channel(conn)
	if err := ch.Tx(); err != nil {
		b.t.Fatalf("tx.select: %v", err)
	}
	return ch
}

// readyOn passively declares queue on ch itself: the answer comes after
// everything ch sent before it has been handled.
func readyOn(t testing.TB, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %q: %v", queue, err)
	}
	return q.Messages
}

func TestTxCommitPublishes(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	tx := b.txChannel(conn)
	// Selecting again is harmless.
	if err := tx.Tx(); err != nil {
		t.Fatalf("second tx.select: %v", err)
	}
	b.publish(tx, "", q, "m0")
	b.publish(tx, "", q, "m1")
	equal(t, "ready before commit", readyOn(t, tx, q), 0)
	if err := tx.TxCommit(); err != nil {
		t.Fatalf("tx.commit: %v", err)
	}
	equal(t, "ready after commit", readyOn(t, tx, q), 2)
	equalStrings(t, "queue contents", drain(t, ch, q), []string{"m0", "m1"})

	// The channel stays transactional: the next publish waits for the next commit.
	b.publish(tx, "", q, "m2")
	equal(t, "ready before the second commit", readyOn(t, tx, q), 0)
	if err := tx.TxCommit(); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "after the second commit", drain(t, ch, q), []string{"m2"})
}

func TestTxRollbackDiscardsPublishes(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	tx := b.txChannel(conn)
	b.publish(tx, "", q, "discarded")
	if err := tx.TxRollback(); err != nil {
		t.Fatalf("tx.rollback: %v", err)
	}
	if err := tx.TxCommit(); err != nil {
		t.Fatal(err)
	}
	equal(t, "ready after rollback and commit", readyOn(t, tx, q), 0)
	b.publish(tx, "", q, "kept")
	if err := tx.TxCommit(); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "queue contents", drain(t, ch, q), []string{"kept"})
}

// Acks in a transaction take effect at commit; a rollback forgets them and
// the messages stay unacknowledged.
func TestTxAcksHeldUntilCommit(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	q := b.queue(ch)
	b.fill(conn, q, "m", 3)

	// Acked, rolled back: still unacked, so closing the channel requeues.
	tx := b.txChannel(conn)
	get(t, tx, q, false)
	get(t, tx, q, false)
	if err := tx.Ack(2, true); err != nil {
		t.Fatal(err)
	}
	if err := tx.TxRollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 3, 0)

	// Acked, not committed: the same.
	tx = b.txChannel(conn)
	get(t, tx, q, false)
	if err := tx.Ack(1, false); err != nil {
		t.Fatal(err)
	}
	equal(t, "ready with an uncommitted ack", readyOn(t, tx, q), 2)
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 3, 0)

	// Acked and committed: gone for good.
	tx = b.txChannel(conn)
	get(t, tx, q, false)
	get(t, tx, q, false)
	if err := tx.Ack(1, false); err != nil {
		t.Fatal(err)
	}
	if err := tx.TxCommit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	b.waitCounts(q, 2, 0)
	var got []string
	for _, d := range []amqp.Delivery{get(t, ch, q, true), get(t, ch, q, true)} {
		got = append(got, string(d.Body))
	}
	equalStrings(t, "left after committing the ack of m0", got, []string{"m1", "m2"})
}

func TestTxCommitWithoutSelect(t *testing.T) {
	b := setup(t)
	conn, ch := b.open()
	err := ch.TxCommit()
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - channel is not transactional")
	ch = b.channel(conn)
	err = ch.TxRollback()
	expectError(t, err, amqp.PreconditionFailed, "PRECONDITION_FAILED - channel is not transactional")
	if conn.IsClosed() {
		t.Fatal("406 closed the connection")
	}
}
