#!/usr/bin/python3
"""A fake systemd socket unit, for the socket activation tests.

    socket_activate.py PORTFILE NAME PROGRAM [ARGS...]

Listens on 127.0.0.1 (a free port, written to PORTFILE), then execs PROGRAM
with that socket at descriptor 3 and LISTEN_FDS=1, LISTEN_FDNAMES=NAME and
LISTEN_PID=<its own pid> (exec keeps the pid), as systemd does.
"""
import os
import socket
import sys


def main():
    portfile, name, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    if sock.fileno() != 3:
        os.dup2(sock.fileno(), 3)
    os.set_inheritable(3, True)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES=name)
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
