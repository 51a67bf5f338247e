"""Latency (p50) and throughput of each read scenario against archive size, per engine.

Runs in bench/.venv (matplotlib): python bench/plot.py RESULTS_JSON OUT_PNG
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

READS = ["disputed", "denied_by_state_media", "search", "deep_page", "claim"]


def main(results_path: str, out_path: str) -> None:
    with open(results_path, encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    ours = [r for r in rows if r["server"] == "claims-api" and r["scenario"] in READS]
    engines = [e for e in ("sqlite", "postgresql") if any(r["engine"] == e for r in ours)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    styles = {"sqlite": "-", "postgresql": "--"}
    for engine in engines:
        for i, scenario in enumerate(READS):
            points = sorted(
                (r["claims"], r["p50_ms"], r["rps"])
                for r in ours
                if r["engine"] == engine and r["scenario"] == scenario
            )
            if not points:
                continue
            sizes = [p[0] for p in points]
            color = f"C{i}"
            label = f"{scenario} ({engine})"
            axes[0].plot(sizes, [p[1] for p in points], styles[engine], color=color, marker="o",
                         label=label)  # fmt: skip
            axes[1].plot(sizes, [p[2] for p in points], styles[engine], color=color, marker="o",
                         label=label)  # fmt: skip
    for ax, title in zip(axes, ("p50 latency (ms)", "throughput (req/s)"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("claims in the archive")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle("claims-api, one worker: SQLite (solid) and PostgreSQL (dashed)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
