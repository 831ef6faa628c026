"""Learning items in DynamoDB (ItemsTable, PK run_id, SK item_id). Writing twice overwrites: idempotent."""

from __future__ import annotations

from collections.abc import Iterable

from havachat.aws.dynamo import RunRows
from havachat.models import LearningItem


class DynamoItems(RunRows):
    def put_items(self, run_id: str, items: Iterable[LearningItem]) -> int:
        """Write one row per item id (a repeated id is written once); returns how many rows were written."""
        rows = {item.id: {"run_id": run_id, "item_id": item.id, **item.model_dump(mode="json")} for item in items}
        self.put_rows(rows.values())
        return len(rows)

    def list_items(self, run_id: str) -> list[LearningItem]:
        return [LearningItem.model_validate(row) for row in self.rows_of_run(run_id)]
