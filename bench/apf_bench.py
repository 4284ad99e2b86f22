"""
API Priority and Fairness benchmark, run by hand (never by the tests):

    python bench/apf_bench.py [--duration 5] [--objects 500] [--flooders 32] [--inflight 20,10] [--exact]

One user ("flooder", wrk with --flooders connections) LISTs --objects configmaps as fast as it can while
another ("victim", one connection) GETs one configmap in a loop; both are plain authenticated users (static
tokens on the secure port), so both fall in the global-default FlowSchema, each a flow of its own (ByUser).
The server runs with --max-requests-inflight / --max-mutating-requests-inflight = --inflight, once with
--enable-priority-and-fairness=true and once with false.  Prints, for each, the flooder's requests/s and
429s, and the victim's GETs/s, 429s and latency (p50, p99).  Needs wrk (Debian package ``wrk``).

With --exact the flooder LISTs at resourceVersionMatch=Exact, which the watch cache does not serve: each LIST
is read from storage (the store's thread) and holds its seat across reactor turns, so the limits bind.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench  # noqa: E402
from api_bench import create_many  # noqa: E402

TOKENS = "flood-token,flooder,1001,\nvictim-token,victim,1002,\n"


class Server(api_bench.Server):
    """api_bench's server with static tokens and AlwaysAllow; `port` is the insecure port (for loading data)."""

    def __init__(self, data_dir: str, extra_args: tuple):
        tokens = os.path.join(os.path.dirname(data_dir), "tokens.csv")
        with open(tokens, "w") as f:
            f.write(TOKENS)
        super().__init__(data_dir, (f"--token-auth-file={tokens}", "--authorization-mode=AlwaysAllow", *extra_args))


def victim(port: int, path: str, stop: threading.Event, out: dict) -> None:
    context = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)
    latencies, codes = [], {}
    while not stop.is_set():
        started = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": "Bearer victim-token"})
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        codes[response.status] = codes.get(response.status, 0) + 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)
    out["latencies"], out["codes"] = sorted(latencies), codes


def run(apf: bool, args) -> dict:
    inflight = args.inflight.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(os.path.join(tmp, "data"), (
            f"--enable-priority-and-fairness={'true' if apf else 'false'}",
            f"--max-requests-inflight={inflight[0]}", f"--max-mutating-requests-inflight={inflight[1]}"))
        try:
            create_many(server, "bench", args.objects, threads=1)     # within any --inflight
            base = "/api/v1/namespaces/bench/configmaps"
            flood = base
            if args.exact:
                _, _, raw = server.request("GET", base + "?limit=1")
                revision = json.loads(raw)["metadata"]["resourceVersion"]
                flood = f"{base}?resourceVersion={revision}&resourceVersionMatch=Exact"
            stop, result = threading.Event(), {}
            thread = threading.Thread(target=victim, args=(server.secure_port, f"{base}/cm-000000", stop, result))
            thread.start()
            wrk = subprocess.run(
                ["wrk", "-t1", f"-c{args.flooders}", f"-d{args.duration}s", "-H",
                 "Authorization: Bearer flood-token", f"https://127.0.0.1:{server.secure_port}{flood}"],
                capture_output=True, text=True, check=True)
            stop.set()
            thread.join()
        finally:
            server.stop()
    if os.environ.get("APF_BENCH_VERBOSE"):
        print(wrk.stdout)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", wrk.stdout)
    lat = result["latencies"]
    return {"flood_rps": rate, "flood_non2xx": int(non2xx.group(1)) if non2xx else 0,
            "victim_rps": len(lat) / args.duration, "victim_codes": result["codes"],
            "victim_p50_ms": 1000 * lat[len(lat) // 2] if lat else 0,
            "victim_p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--flooders", type=int, default=32)
    parser.add_argument("--inflight", default="20,10")
    parser.add_argument("--exact", action="store_true", help="flood with LISTs read from storage")
    args = parser.parse_args()
    print(f"flooder: {args.flooders} conns LISTing {args.objects} configmaps"
          f"{' from storage (Exact)' if args.exact else ''}; victim: 1 conn GETting one; "
          f"max-inflight {args.inflight}; {args.duration}s each; {os.cpu_count()} cpus")
    print("| APF | flooder LIST/s | flooder non-2xx | victim GET/s | victim codes | victim p50 ms | victim p99 ms |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for apf in (True, False):
        r = run(apf, args)
        print(f"| {'on' if apf else 'off'} | {r['flood_rps']:.0f} | {r['flood_non2xx']} | {r['victim_rps']:.0f} | "
              f"{r['victim_codes']} | {r['victim_p50_ms']:.1f} | {r['victim_p99_ms']:.1f} |")


if __name__ == "__main__":
    main()
