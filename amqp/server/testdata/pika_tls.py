"""Connects to Warren over amqps with pika, as TestTLSPika directs.

usage: pika_tls.py HOST PORT CA_FILE CASE [CERT KEY]
CASE: plain (guest/guest with the certificate), external (EXTERNAL from the
certificate), refused (the TLS handshake or login must fail).
Prints one line: "ok <detail>" or "refused <error class>: <error>".
"""
import ssl
import sys

import pika
from pika.credentials import ExternalCredentials, PlainCredentials


def main():
    host, port, ca, case = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if len(sys.argv) > 6:
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    creds = ExternalCredentials() if case == "external" else PlainCredentials("guest", "guest")
    params = pika.ConnectionParameters(
        host=host, port=port, credentials=creds, connection_attempts=1,
        ssl_options=pika.SSLOptions(ctx, server_hostname="localhost"), heartbeat=0)
    try:
        conn = pika.BlockingConnection(params)
    except Exception as e:  # the handshake or the login failed
        print("refused %s: %s" % (type(e).__name__, e))
        return
    ch = conn.channel()
    q = ch.queue_declare(queue="", exclusive=True).method.queue
    ch.basic_publish(exchange="", routing_key=q, body=b"pika over tls")
    body = None
    for _ in range(100):
        method, _props, body = ch.basic_get(q, auto_ack=True)
        if method:
            break
        conn.sleep(0.05)
    version = conn._impl._transport._sock.version()
    conn.close()
    print("ok %s %s" % (version, body.decode() if body else None))


main()
