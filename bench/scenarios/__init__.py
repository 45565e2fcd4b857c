"""The benchmark scenarios; each module has ``run(options) -> list[Table]``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Options:
    """What every scenario is told by the command line."""

    seconds: int = 8            # measured seconds per load run
    warmup_s: int = 2           # unmeasured seconds before each run
    threads: int = 32           # gunicorn threads of the sentiment and no-op services
    batch_size: int = 16        # dynamic batching: BATCH_MAX_SIZE (best in `tune`)
    batch_latency_ms: float = 2.0   # dynamic batching: BATCH_MAX_LATENCY_MS
    quick: bool = False
    artifact: str = ""          # sentiment SavedModel folder (default: the service's)

    @classmethod
    def quick_run(cls, **overrides) -> "Options":
        """A smoke run: short loads, fewer cases."""
        return cls(**{"seconds": 2, "warmup_s": 1, "quick": True, **overrides})

    def sentiment_env(self, batching: bool, size: int | None = None,
                      latency_ms: float | None = None) -> dict[str, str]:
        """The sentiment service's environment, with or without dynamic batching."""
        env = {"SENTIMENT_BATCHING": "1" if batching else "0"}
        if self.artifact:
            env["SENTIMENT_ARTIFACT_DIR"] = self.artifact
        if batching:
            env["SENTIMENT_BATCH_MAX_SIZE"] = str(self.batch_size if size is None else size)
            env["SENTIMENT_BATCH_MAX_LATENCY_MS"] = str(
                self.batch_latency_ms if latency_ms is None else latency_ms)
        return env


#: Every scenario, in the order they run; ``tune`` runs only when asked for.
SCENARIOS = ("serving", "pipes", "stack", "batching", "chatbot", "video", "warm", "tune")
DEFAULT = ("serving", "pipes", "stack", "batching", "chatbot", "video")
