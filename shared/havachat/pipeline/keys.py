"""Where a run's objects live in the data bucket, and the ids derived from an upload."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only: contracts imports this module
    from havachat.pipeline.contracts import S3Object


class RunKeys:
    """Where a run's objects live in the data bucket."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    @property
    def vocab(self) -> str:
        return f"scratch/{self.run_id}/vocab.json"

    @property
    def plan(self) -> str:
        return f"scratch/{self.run_id}/plan.json"

    @property
    def manifest(self) -> str:
        return f"scratch/{self.run_id}/batches.json"

    def chunk(self, chunk_index: int) -> str:
        """One chunk's slice of the vocabulary: a batch reads only its own words, not the whole list."""
        return f"scratch/{self.run_id}/chunks/{chunk_index:04d}.json"

    def batch_output(self, batch_id: str) -> str:
        return f"scratch/{self.run_id}/batches/{batch_id}.json"

    def batch_error(self, batch_id: str) -> str:
        return f"scratch/{self.run_id}/errors/{batch_id}.json"

    @property
    def cache_warm(self) -> str:
        """What the prompt-cache warm-up cost (`WarmOutput`), for Finalize to add to the run's cost."""
        return f"scratch/{self.run_id}/cache_warm.json"

    @property
    def message_batch(self) -> str:
        """The run's Message Batch (`MessageBatchRecord`): its id, what came of it and what it wasted."""
        return f"scratch/{self.run_id}/message_batch.json"

    @property
    def items(self) -> str:
        return f"results/{self.run_id}/items.jsonl"

    @property
    def summary(self) -> str:
        return f"results/{self.run_id}/run.json"


def list_catalog_key(source: S3Object) -> str:
    """The features taught by every run of one uploaded list (same bucket and key, any content)."""
    digest = hashlib.sha256(f"{source.bucket}\x00{source.key}".encode()).hexdigest()[:24]
    return f"catalog/{digest}/items.json"


def content_index_key(content_key: str) -> str:
    """`{"run_id"}` of the run whose batch outputs an upload with this content key may reuse."""
    return f"scratch/content-index/{content_key}.json"


def run_id_for(bucket: str, key: str, version_or_etag: str | None) -> str:
    """Deterministic: the same object version always maps to the same run."""
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "vocab"
    digest = hashlib.sha256(f"{bucket}\x00{key}\x00{version_or_etag or ''}".encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


class ContentKeys:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    @property
    def content(self) -> str:
        return f"results/{self.run_id}/content.json"

    def chunk(self, chunk_id: str) -> str:
        return f"scratch/{self.run_id}/content/{chunk_id}.json"
