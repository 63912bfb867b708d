#!/usr/bin/env python3
"""tests/integration/fake_cti.py with TCP_NODELAY on its connections.

The fake server writes a response's headers and body in two send() calls; on
a kept-alive connection Nagle's algorithm then holds the body until the
client's delayed ACK (~40 ms on Linux) arrives, which adds ~40 ms to every
request after a connection's first one.  Real CTI front ends do not do that,
and a latency benchmark must see only the configured --delay-ms, so the
benchmarks start the fake server through this wrapper.  Same arguments and
output as fake_cti.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import fake_cti  # noqa: E402

fake_cti.Handler.disable_nagle_algorithm = True  # StreamRequestHandler.setup()

if __name__ == "__main__":
    sys.exit(fake_cti.main())
