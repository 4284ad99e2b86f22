"""
HTTP/2 benchmark, run by hand (never by the tests):

    python bench/http2_bench.py [--requests 4000] [--objects 100]

Starts kapiserver with its secure port (a static token for authentication) and, in the same run, the
floor (bench/floor.py over TLS, offering h2 and http/1.1 as kapiserver does, answering the very bytes
kapiserver answered), then measures with h2load (Debian package ``nghttp2-client``): GET one object and
LIST --objects objects, over HTTP/2 with 8 connections, over HTTP/2 with 8 streams multiplexed on one
connection, and over HTTP/1.1 with 8 connections. Prints requests/s, the ratio to the floor, and
HTTP/2 against HTTP/1.1 for both servers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from api_bench import HERE, Server, create_many, free_port

TOKEN = "bench-token"
CASES = (("h2, 8 conns", ["-c", "8", "-m", "1"]), ("h2, 1 conn x 8 streams", ["-c", "1", "-m", "8"]),
         ("http/1.1, 8 conns", ["--h1", "-c", "8"]))


def h2load(url: str, requests: int, args: list) -> float:
    out = subprocess.run(["h2load", "-H", f"Authorization: Bearer {TOKEN}", "-n", str(requests), *args, url],
                         capture_output=True, text=True).stdout
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    if done is None or int(done.group(1)) != requests:
        print(f"    (h2load: not every request succeeded on {url}:\n{out[-600:]})")
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    return float(rate.group(1)) if rate else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--objects", type=int, default=100)
    options = parser.parse_args()
    if not shutil.which("h2load"):
        sys.exit("h2load is needed (apt-get install nghttp2-client)")
    work = tempfile.mkdtemp(prefix="kap-h2-bench-")
    with open(os.path.join(work, "tokens.csv"), "w") as f:
        f.write(f'{TOKEN},bench,1,"system:masters"\n')
    secure_port = free_port()
    server = Server(os.path.join(work, "data"), (f"--secure-port={secure_port}", "--bind-address=127.0.0.1",
                                                 f"--token-auth-file={os.path.join(work, 'tokens.csv')}"))
    floor = None
    try:
        create_many(server, "bench", options.objects)
        paths = {"GET": "/api/v1/namespaces/bench/configmaps/cm-000000",
                 f"LIST {options.objects}": "/api/v1/namespaces/bench/configmaps?resourceVersion=0"}
        table = {}
        context = ssl._create_unverified_context()
        for name, path in paths.items():
            request = urllib.request.Request(f"https://127.0.0.1:{secure_port}{path}",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(request, context=context) as response:
                body_file = os.path.join(work, f"body-{len(table)}")
                with open(body_file, "wb") as f:
                    f.write(response.read())
                table[path] = [response.status, response.headers["Content-Type"], body_file]
        with open(os.path.join(work, "floor.json"), "w") as f:
            json.dump(table, f)
        floor_port = free_port()
        pki = os.path.join(work, "data", "pki")
        floor = subprocess.Popen([sys.executable, os.path.join(HERE, "floor.py"), str(floor_port),
                                  os.path.join(work, "floor.json"), os.path.join(pki, "apiserver.crt"),
                                  os.path.join(pki, "apiserver.key")])
        time.sleep(1.0)
        print(f"{'case':<34} {'kapiserver':>11} {'floor':>9} {'ratio':>6}")
        results = {}
        for name, path in paths.items():
            for case, args in CASES:
                project = h2load(f"https://127.0.0.1:{secure_port}{path}", options.requests, args)
                base = h2load(f"https://127.0.0.1:{floor_port}{path}", options.requests, args)
                results[(name, case)] = (project, base)
                print(f"{name + ', ' + case:<34} {project:>11.0f} {base:>9.0f} {project / base if base else 0:>6.2f}")
        for name in paths:
            project_h2, floor_h2 = results[(name, CASES[0][0])]
            project_h1, floor_h1 = results[(name, CASES[2][0])]
            print(f"{name}: h2/http1.1 at 8 conns: kapiserver {project_h2 / project_h1:.2f}, "
                  f"floor {floor_h2 / floor_h1:.2f}")
    finally:
        server.stop()
        if floor is not None:
            floor.terminate()
            floor.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
