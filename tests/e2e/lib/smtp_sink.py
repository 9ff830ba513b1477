"""smtp_sink.py — a real SMTP server for the tests (Debian's aiosmtpd).

Usage: /usr/bin/python3 smtp_sink.py DIR PORT

Listens on 127.0.0.1:PORT and writes every accepted message to DIR as
NNNN.eml (the bytes as received, dot-unstuffed by aiosmtpd) next to
NNNN.json ({"mail_from", "rcpt_tos"}), each written to a temporary name and
renamed, so a reader never sees half a message. Prints "READY PORT" on
stdout once it accepts connections; stops on SIGTERM/SIGINT.
Run it with /usr/bin/python3 (the system Python that has aiosmtpd)."""
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    def _write(self, name, data):
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.folder, name))

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)}
        self._write("%04d.json" % n, json.dumps(meta).encode())
        self._write("%04d.eml" % n, raw)
        return "250 Message accepted for delivery"


def main():
    folder, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("READY %d" % port, flush=True)
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
