"""Latency (p50) and throughput of each read scenario against archive size, per engine.

Runs in bench/.venv (matplotlib): python bench/plot.py RESULTS_JSON OUT_PNG
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

READS = ["disputed", "denied_by_state_media", "search", "deep_page", "claim"]
# One row of panels each: the defaults (repeated reads from the response cache), then
# every request running its queries.
SERVICES = ["claims-api", "claims-api (no cache)"]


def main(results_path: str, out_path: str) -> None:
    with open(results_path, encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    fig, grid = plt.subplots(len(SERVICES), 2, figsize=(12, 4.8 * len(SERVICES)))
    styles = {"sqlite": "-", "postgresql": "--"}
    for server, axes in zip(SERVICES, grid, strict=True):
        ours = [r for r in rows if r["server"] == server and r["scenario"] in READS]
        for engine in ("sqlite", "postgresql"):
            for i, scenario in enumerate(READS):
                points = sorted(
                    (r["claims"], r["p50_ms"], r["rps"])
                    for r in ours
                    if r["engine"] == engine and r["scenario"] == scenario
                )
                if not points:
                    continue
                sizes = [p[0] for p in points]
                label = f"{scenario} ({engine})"
                for ax, values in zip(axes, ([p[1] for p in points], [p[2] for p in points]),
                                      strict=True):  # fmt: skip
                    ax.plot(sizes, values, styles[engine], color=f"C{i}", marker="o", label=label)
        for ax, title in zip(axes, ("p50 latency (ms)", "throughput (req/s)"), strict=True):
            ax.set_xscale("log")
            ax.set_xlabel("claims in the archive")
            ax.set_title(f"{server}: {title}")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_yscale("log")
        axes[1].legend(fontsize=7, loc="best")
    fig.suptitle("claims-api, one worker: SQLite (solid) and PostgreSQL (dashed)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
