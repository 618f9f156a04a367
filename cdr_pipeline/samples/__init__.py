"""Deterministic synthetic inputs of every kind: DCH call exports (CSV, ZIP without extension,
API JSON), Webex Go device snapshots, activation events, licence entitlements, the org
directory, with labelled anomalies. Same seed, same bytes."""

from cdr_pipeline.samples.bulk import GenerationProgress, write_call_export
from cdr_pipeline.samples.generate import SamplesResult, generate_samples
from cdr_pipeline.samples.scale import ScaleResult, generate_scale_samples

__all__ = [
    "GenerationProgress",
    "SamplesResult",
    "ScaleResult",
    "generate_samples",
    "generate_scale_samples",
    "write_call_export",
]
