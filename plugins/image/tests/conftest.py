"""Test set-up: one thread, and a private feature cache for the whole session."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("MLTASKS_CACHE_DIR", tempfile.mkdtemp(prefix="mltasks-image-cache-"))
