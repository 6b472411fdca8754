#!/usr/bin/env python3
"""A TCP proxy on loopback that passes what the server sends at most RATE bytes a second,
so that a clone through it lasts long enough for maintenance to run while it reads.

Usage: slow-proxy.py LISTEN_PORT TARGET_PORT RATE
Each connection to 127.0.0.1:LISTEN_PORT is forwarded to 127.0.0.1:TARGET_PORT; requests go
through at once, responses at RATE bytes/s. Runs until killed.
"""
import socket
import sys
import threading
import time

CHUNK = 16 * 1024


def pump(source, sink, rate):
    try:
        while True:
            data = source.recv(CHUNK)
            if not data:
                break
            sink.sendall(data)
            if rate:
                time.sleep(len(data) / rate)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listen_port, target_port, rate):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(16)
    while True:
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(client, server, 0), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, rate), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
