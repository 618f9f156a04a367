"""Personal data: erasure of a person (`cdr forget`), retention of personal fields, key
rotation (`cdr keys rotate`). The analyst tier itself is built with the views
(`warehouse/analyst.py`); see docs/privacy.md."""

from __future__ import annotations

from cdr_pipeline.privacy.forget import ForgetResult, forget
from cdr_pipeline.privacy.keys import Rotation, rotate_keys

__all__ = ["ForgetResult", "Rotation", "forget", "rotate_keys"]
