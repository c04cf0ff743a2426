#!/usr/bin/python3
"""A socket-activated server, for the socket activation tests.

Accepts one connection on descriptor 3 (sd_listen_fds' first), answers with
what it was given - its pid, whether LISTEN_PID is its own pid and
LISTEN_FDS is 1, LISTEN_FDNAMES, and which descriptors above 3 it has (none
should leak from ostiary) - and exits 1, so that ostiary --restart starts it
again on the same socket.
"""
import os
import socket
import sys


def open_fds_above_3():
    found = []
    for fd in range(4, 256):
        try:
            os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    return found


def main():
    extra = open_fds_above_3()
    ok = os.environ.get("LISTEN_PID") == str(os.getpid()) and \
        os.environ.get("LISTEN_FDS") == "1"
    listener = socket.socket(fileno=3)
    conn, _ = listener.accept()
    conn.sendall(("pid=%d ok=%s names=%s extra=%s\n" % (
        os.getpid(), ok, os.environ.get("LISTEN_FDNAMES", ""),
        ",".join(map(str, extra)) or "none")).encode())
    conn.close()
    sys.exit(1)


if __name__ == "__main__":
    main()
