"""The reference platform's memory while strangers post big bodies it cannot verify (issue 19).

    python -m benchmarks.platform_strangers [--posts 20] [--mib 15]

`fillfloor platform serve` runs in a process of its own (SQLite, one unit). For each kind of
stranger, `--posts` requests at once each send a `--mib` MiB body, its length declared, a MiB at
a time (a body of undeclared length, chunked, is answered 411 from its headers alone):
- `no headers`: no signing headers at all;
- `unknown party`: signing headers naming a party the platform does not have;
- `known party, bad signature`: a real unit's id with a wrong signature (the platform must read
  the body before it can tell: this is what its cap on unverified bodies is for).
The figure is the platform process's peak RSS (VmHWM) after the attack; the ratio is against the
peak before it, and the note gives the answers. The issue's finding, before: 20 unsigned 15 MiB
posts took the platform to 406 MB.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from platform_client.signing import fresh_nonce, sign_request

__all__ = ["KINDS", "NOTES", "run"]

UNIT = "HY0012"
KINDS = ("no headers", "unknown party", "known party, bad signature")

NOTES = """
Each kind of stranger runs against a fresh platform process, so each peak is its own. The platform
checks the headers, the timestamp, the body's declared length (411 without one, 413 over the limit,
the same for every party) and that the party exists before it reads a byte of a body, so strangers
without a known party id cost it nothing beyond their connections; a known party id with a bad
signature costs what the cap on unverified bodies allows (32 bodies, 48 MiB buffered in all: the
rest are answered 503 `request.busy` at once). None of these answers is signed.
"""


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _headers(kind: str) -> dict[str, str]:
    ts, nonce = int(time.time()), fresh_nonce()
    if kind == KINDS[0]:
        return {}
    party = "NOBODY01" if kind == KINDS[1] else UNIT
    return sign_request(party, "ffk_wrong", "POST", "/v1/records", b"", ts, nonce)


async def _post(port: int, kind: str, mib: int) -> str:
    """One stranger's post, a MiB at a time, on a raw socket (the body stops when the platform
    answers); the platform's answer."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in _headers(kind).items())
    head = (f"POST /v1/records HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {mib << 20}\r\n{extra}\r\n").encode()  # fmt: skip
    chunk = b"{" + b" " * ((1 << 20) - 1)
    reply = b""
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    except OSError as exc:
        return f"not connected ({exc.strerror})"
    async with stream, trio.open_nursery() as nursery:

        async def send() -> None:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(head)
                for _ in range(mib):
                    await stream.send_all(chunk)
                    await trio.sleep(0.01)  # a stranger's pace, not loopback's

        nursery.start_soon(send)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while not _whole(reply) and (data := await stream.receive_some(65536)):
                reply += data
        nursery.cancel_scope.cancel()
    status_line, _, rest = reply.partition(b"\r\n")
    code = re.search(rb'"error":\s*"([a-z._]+)"', rest)
    return " ".join(x.decode() for x in (status_line.split(b" ")[1:2] + ([code[1]] if code else [])))


def _whole(reply: bytes) -> bool:
    head, sep, body = reply.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(sep) and length is not None and len(body) >= int(length[1])


async def _attack(url: str, kind: str, posts: int, mib: int) -> collections.Counter[str]:
    port = int(url.rsplit(":", 1)[1].strip("/"))
    answers: collections.Counter[str] = collections.Counter()

    async def one() -> None:
        answers[await _post(port, kind, mib) or "closed without an answer"] += 1

    async with trio.open_nursery() as nursery:
        for _ in range(posts):
            nursery.start_soon(one)
    return answers


def _measure(kind: str, posts: int, mib: int) -> tuple[int, int, str]:
    """(peak RSS KiB before, after, the answers) of a fresh platform process against `kind`."""
    with tempfile.TemporaryDirectory(prefix="fillfloor-strangers-") as tmp:
        db, secret = f"sqlite:///{Path(tmp) / 'platform.db'}", str(Path(tmp) / "platform.secret")
        cli = [sys.executable, "-m", "fillfloor.cli", "platform"]
        add = [*cli, "unit", "add", UNIT, "--short-name", "衡阳燃气", "--db", db, "--secret-file", secret]
        subprocess.run(add, capture_output=True, check=True)
        serve = [*cli, "serve", "--listen", "127.0.0.1:0", "--db", db, "--secret-file", secret]
        with subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
            try:
                assert proc.stdout is not None
                url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
                before = _peak_kib(proc.pid)
                answers = trio.run(_attack, url, kind, posts, mib)
                after = _peak_kib(proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    said = ", ".join(f"{n}× {a}" for a, n in answers.most_common())
    return before, after, said


def run(posts: int = 20, mib: int = 15) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for kind in KINDS:
        before, after, said = _measure(kind, posts, mib)
        rows.append({"name": f"platform peak RSS, {posts} × {mib} MiB posts, {kind}", "value": after / 1024,
                     "unit": "MiB", "ratio": after / before if before else 0.0,
                     "note": f"{before / 1024:.0f} MiB before; answers: {said}"})  # fmt: skip
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--mib", type=int, default=15)
    args = parser.parse_args()
    for r in run(args.posts, args.mib):
        print(f"{r['name']}: {r['value']:.1f} {r['unit']} (×{r['ratio']:.2f}) ({r['note']})")
