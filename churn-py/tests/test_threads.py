"""One Analytics shared by a thread pool: tracking and analyses at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import churnlens


def test_many_threads_track_and_analyse(db_path: Path) -> None:
    with churnlens.Analytics(db_path, batch_size=200) as a:
        def work(t: int) -> int:
            for i in range(500):
                a.track("e", user_id=f"t{t}-u{i % 50}", properties={"i": i})
                if i % 100 == 0:
                    a.active_users(period="day")
            return t

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sorted(pool.map(work, range(8))) == list(range(8))
        a.flush()
        s = a.stats()
        assert (s["accepted"], s["stored"]) == (4000, 4000)
        assert a.active_users(period="day")["total_users"] == 8 * 50


def test_gil_released_during_analysis(mem: churnlens.Analytics) -> None:
    mem.track_batch([{"event": "e", "user_id": f"u{i % 1000}",
                      "timestamp": 1_767_225_600_000 + i * 60_000} for i in range(20_000)])
    mem.flush()
    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0)

    th = threading.Thread(target=ticker)
    th.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.3:
        mem.sessions(period="day")
    stop.set()
    th.join()
    # With the GIL held for whole analyses the ticker would barely run.
    assert ticks > 100
