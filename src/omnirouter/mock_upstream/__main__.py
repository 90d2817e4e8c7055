"""``python -m omnirouter.mock_upstream [--host H] [--port P]``."""

from __future__ import annotations

import argparse

from omnirouter.mock_upstream.runner import serve


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="omnirouter-mock-upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
