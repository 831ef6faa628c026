"""Stage 2 content in DynamoDB (ContentTable, PK run_id, SK content_id). Writing twice overwrites: idempotent.

A table of its own rather than rows in ItemsTable: readers of a run's items query by `run_id` and
get learning items only, and content rows (whole stories) have their own size and access pattern.
"""

from __future__ import annotations

from collections.abc import Iterable

from havachat.aws.dynamo import RunRows
from havachat.content.models import Conversation, Story


class DynamoContent(RunRows):
    def put_content(self, run_id: str, pieces: Iterable[Conversation | Story]) -> int:
        """Write one row per piece id; returns how many rows were written."""
        rows = {
            piece.id: {"run_id": run_id, "content_id": piece.id, **piece.model_dump(mode="json")} for piece in pieces
        }
        self.put_rows(rows.values())
        return len(rows)

    def list_content(self, run_id: str) -> list[Conversation | Story]:
        pieces: list[Conversation | Story] = []
        for data in self.rows_of_run(run_id):
            model: type[Conversation] | type[Story] = Conversation if data["kind"] == "conversation" else Story
            pieces.append(model.model_validate(data))
        return pieces
