"""Cold `import networkx` through a real Deephaven server's remote-file-source plugin, served by
`rfs serve --deephaven` and by a pydeephaven-based client (scripts/deephaven_py_client.py), same
server, one run; plus the same import from the server's own disk, for the plugin's own cost.

Every figure is the wall time of one console command (`import networkx`, timed around
pydeephaven's run_script from this process), with every networkx module evicted first. Blocks
alternate (rfs, client, disk) ROUNDS times; the medians are compared.

    python scripts/bench_deephaven.py --url URL --psk K --rfs PATH --source DIR [--rounds 3] [--repeat 3]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

from pydeephaven import Session

PSK_AUTH = "io.deephaven.authentication.psk.PskAuthenticationHandler"
EVICT = (
    "import sys as _b_sys\n"
    "for _b_name in [n for n in _b_sys.modules if n == 'networkx' or n.startswith('networkx.')]:\n"
    "    del _b_sys.modules[_b_name]\n"
    "del _b_sys\n"
)


def timed(session, code):
    start = time.perf_counter()
    session.run_script(code)
    return time.perf_counter() - start


def rfs_block(args, session, repeat):
    env = dict(os.environ, DEEPHAVEN_PSK=args.psk)
    serve = subprocess.Popen(
        [args.rfs, "serve", args.source, "--deephaven", args.url, "--log-level", "info"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    banner = serve.stdout.readline()
    if "serving" not in banner:
        serve.kill()
        raise SystemExit(f"rfs serve did not start: {banner}{serve.stderr.read()}")
    # One log line per fetch: drained by a thread, so rfs never blocks on a full pipe.
    lines = []
    drain = threading.Thread(target=lambda: lines.extend(serve.stderr), daemon=True)
    drain.start()
    seconds = []
    try:
        for _ in range(repeat):
            session.run_script(EVICT)
            seconds.append(timed(session, "import networkx"))
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
        drain.join(timeout=30)
    # rfs's own time per fetch: the lookup and read it logs as `us=` for each fetch_module.
    lookups = [int(part[3:]) for line in lines if " fetch" in line
               for part in line.split() if part.startswith("us=")]
    return seconds, lookups


def client_block(args, repeat):
    out = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(__file__), "deephaven_py_client.py"), "--url", args.url,
         "--psk", args.psk, "--source", args.source, "--code", "import networkx", "--repeat", str(repeat)],
        check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return [row["seconds"] for row in rows], rows[-1]["fetches"]


def disk_block(session, source, repeat):
    session.run_script(f"import sys as _b_sys\n_b_sys.path.insert(0, {source!r})\ndel _b_sys\n")
    try:
        seconds = []
        for _ in range(repeat):
            session.run_script(EVICT)
            seconds.append(timed(session, "import networkx"))
        return seconds
    finally:
        session.run_script(f"import sys as _b_sys\n_b_sys.path.remove({source!r})\ndel _b_sys\n" + EVICT)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--psk", required=True)
    ap.add_argument("--rfs", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    url = urlparse(args.url)
    session = Session(url.hostname, url.port, auth_type=PSK_AUTH, auth_token=args.psk)
    results = {"rfs serve": [], "pydeephaven client": [], "server's own disk": []}
    lookups = []
    fetches = None
    try:
        for _ in range(args.rounds):
            seconds, micros = rfs_block(args, session, args.repeat)
            results["rfs serve"] += seconds
            lookups += micros
            seconds, fetches = client_block(args, args.repeat)
            results["pydeephaven client"] += seconds
            results["server's own disk"] += disk_block(session, args.source, args.repeat)
    finally:
        session.close()
    rfs = statistics.median(results["rfs serve"])
    client = statistics.median(results["pydeephaven client"])
    disk = statistics.median(results["server's own disk"])
    print(f"cold `import networkx` ({fetches} fetch_module requests per import), "
          f"{args.rounds} rounds x {args.repeat}, median wall time of the console command:")
    for name, values in results.items():
        print(f"  {name:20s} {statistics.median(values) * 1000:8.1f} ms   (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")
    print(f"  rfs serve / pydeephaven client: {rfs / client:.2f}x")
    print(f"  plugin cost per module: rfs {(rfs - disk) / fetches * 1000:.2f} ms, "
          f"pydeephaven client {(client - disk) / fetches * 1000:.2f} ms")
    if lookups:
        print(f"  rfs's own share: {statistics.mean(lookups) / 1000:.3f} ms per fetch (median {statistics.median(lookups)} us, "
              f"{len(lookups)} fetches logged), {statistics.mean(lookups) * fetches / 1000 / (rfs * 1000) * 100:.1f}% of the import")


if __name__ == "__main__":
    main()
