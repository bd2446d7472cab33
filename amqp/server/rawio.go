package server

// readSocket reads into p from the socket: with a raw read(2) when the
// connection is a plain TCP socket (amqp/rawsock: no wake-up of the
// runtime's monitor thread per read), else with the net.Conn. Errors are
// those of net.Conn.Read (deadlines, a closed connection, io.EOF).
func (c *conn) readSocket(p []byte) (int, error) {
	if c.rsock == nil {
		return c.nc.Read(p)
	}
	return c.rsock.Read(p)
}
