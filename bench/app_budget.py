"""The phone app's budgets (issue 9), reported, never asserted: for ``/app/`` on a cold cache,
the bytes transferred (compressed as the server sends them), the app's own JS and CSS
uncompressed (budget 60 KB), and the Largest Contentful Paint on a throttled "Slow 4G" phone.

Run: ``python bench/app_budget.py [--runs 3] [--port 8765]``.

It migrates a throw-away SQLite database in a temporary directory, creates one officer, serves
the project with ``manage.py runserver`` (DEBUG off is not used: runserver serves the static
files only with DEBUG on, so the figures are those of the demo server), signs in with Chromium
(``/usr/bin/chromium`` or ``PRESENCE_CHROMIUM``) and loads the page ``--runs`` times, each in a
fresh browser context (cold HTTP cache, no service worker).

Throttling is Chrome DevTools' (not Lighthouse's simulation, which needs ``npx lighthouse``):
Lighthouse's "Slow 4G" preset as DevTools applies it: 562.5 ms round trip, 1.474 Mbit/s down,
0.675 Mbit/s up, CPU slowed 4x. Transfer is the sum of ``encodedDataLength`` over every
response of the page load (headers included). The peer figure, measured the same way in the
same run, is the landing page ``/`` (desktop pages, no map for an officer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "mobile_web"
SLOW_4G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1_474_400 / 8,
    "uploadThroughput": 675_000 / 8,
}
LCP_JS = """() => new Promise((resolve) => {
    let last = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) last = e.startTime; })
        .observe({type: "largest-contentful-paint", buffered: true});
    setTimeout(() => resolve(last), 500);
})"""


def own_bytes() -> dict[str, int]:
    files = sorted([*APP.rglob("*.js"), *APP.rglob("*.css")])
    return {str(p.relative_to(ROOT)): p.stat().st_size for p in files}


def serve(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "DEBUG": "true"}
    env.pop("REDIS_URL", None)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [
            py,
            "manage.py",
            "shell",
            "-c",
            "from backend.accounts.models import User; "
            "User.objects.create_user("
            "'bench-officer', password='bench-password-1', role='officer')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    proc = subprocess.Popen(
        [py, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return proc


def load(browser: Any, base: str, path: str, throttle: bool) -> tuple[int, int, float]:
    """(bytes transferred, responses, LCP ms) of one cold load of ``path`` signed in."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, service_workers="block"
    )
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "bench-officer")
    page.fill("#id_password", "bench-password-1")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    context.clear_cookies(name="never")  # keep the session; the HTTP cache is per context
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # cold: nothing cached
    if throttle:
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    sizes: dict[str, float] = {}
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    page.goto(f"{base}{path}", wait_until="networkidle")
    lcp = float(page.evaluate(LCP_JS))
    context.close()
    return int(sum(sizes.values())), len(sizes), lcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    own = own_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        proc = serve(Path(tmp), args.port)
        base = f"http://127.0.0.1:{args.port}"
        try:
            exe = os.environ.get("PRESENCE_CHROMIUM") or shutil.which("chromium")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=exe, args=["--no-sandbox"], headless=True
                )
                rows = []
                for path in ("/app/", "/"):
                    cold = [load(browser, base, path, throttle=False) for _ in range(args.runs)]
                    slow = [load(browser, base, path, throttle=True) for _ in range(args.runs)]
                    fast_lcp = statistics.median(r[2] for r in cold)
                    slow_lcp = statistics.median(r[2] for r in slow)
                    rows.append((path, cold[0][0], cold[0][1], fast_lcp, slow_lcp))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    print(
        f"Phone app budgets ({args.runs} cold loads per figure; Slow 4G = 562.5 ms RTT, "
        "1.47 Mbit/s, CPU x4, DevTools throttling)\n"
    )
    print(
        f"{'page':<10} {'transfer KB':>12} {'responses':>10} {'LCP ms (fast)':>14} "
        f"{'LCP ms (Slow 4G)':>17}  budget"
    )
    for path, transfer, n, lcp_fast, lcp_slow in rows:
        note = "transfer <= 120 KB, LCP <= 2500 ms" if path == "/app/" else "(peer)"
        kb = transfer / 1000
        print(f"{path:<10} {kb:>12.1f} {n:>10} {lcp_fast:>14.0f} {lcp_slow:>17.0f}  {note}")
    total = sum(own.values())
    print(f"\nThe app's own JS and CSS, uncompressed: {total / 1000:.1f} KB (budget 60 KB)")
    for name, size in own.items():
        print(f"  {name:<32} {size:>7} B")
    cat = sorted(APP.glob("i18n/*.json"))
    print(
        "String catalogues (JSON, fetched: English plus the officer's language): "
        + ", ".join(f"{p.name} {p.stat().st_size} B" for p in cat)
    )


if __name__ == "__main__":
    main()
