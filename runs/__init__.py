"""Run folders: where a training run lives on disk, and the bottom layer of the package.

One directory per run (``results/<protocol>/<run-id>/``) holding its configuration and
provenance, metrics, checkpoints, recordings and log; see :mod:`runs.folder`. Training,
sweeps, analysis, figures and benchmarks all import this package; it imports none of
them.
"""

from runs.folder import (CHECKPOINT_FILE, CHECKPOINT_FORMAT, CONFIG_FILE, LOG_FILE,
                         METRICS_FILE, PREVIOUS_CHECKPOINT_FILE, RECORDINGS_DIR, STATS_PREFIX,
                         Checkpoint, CorruptCheckpointError, NotARunError, ResultsPathError,
                         RunFolder, RunInUseError, RunWriteError, atomic_write_bytes,
                         atomic_write_text, check_checkpoint, check_learned_state,
                         check_resumable, config_digest, new_run_id, provenance)

__all__ = ["RunFolder", "NotARunError", "RunInUseError", "ResultsPathError", "RunWriteError",
           "CorruptCheckpointError", "Checkpoint", "check_resumable", "check_checkpoint",
           "check_learned_state", "config_digest", "atomic_write_bytes", "atomic_write_text",
           "provenance", "new_run_id", "CONFIG_FILE", "METRICS_FILE", "CHECKPOINT_FILE",
           "PREVIOUS_CHECKPOINT_FILE", "LOG_FILE", "RECORDINGS_DIR", "CHECKPOINT_FORMAT",
           "STATS_PREFIX"]
