"""A logging pass-through proxy: put it between a coding-agent CLI and the gateway to see the exact
requests the CLI sends and the exact bytes the gateway answers.

    python scripts/agents/tap.py --listen 19090 --target http://127.0.0.1:19080 --dir /tmp/tap

Each exchange is written to DIR/NNN.json ({method, path, headers, body, status, response_headers,
response}), the response body as text (SSE kept verbatim). Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import itertools
import json
import pathlib
import urllib.parse

_counter = itertools.count(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    target = urllib.parse.urlsplit(args.target)
    out = pathlib.Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            n = next(_counter)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            self.send_response(resp.status)
            chunks: list[bytes] = []
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("connection", "close")
            self.end_headers()
            while True:
                chunk = resp.read1(65536) if self.command != "HEAD" else b""
                if not chunk:
                    break
                chunks.append(chunk)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            if self.command != "HEAD":
                self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = body.decode("utf-8", "replace")
            record = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": parsed,
                "status": resp.status,
                "response_headers": dict(resp.getheaders()),
                "response": b"".join(chunks).decode("utf-8", "replace"),
            }
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{n:03d}.json").write_text(json.dumps(record, indent=1))

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _relay

        def log_message(self, format: str, *args: object) -> None:
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", args.listen), Handler).serve_forever()


if __name__ == "__main__":
    main()
