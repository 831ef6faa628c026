"""S3 as the pipeline's scratch space and result store (JSON and JSONL objects)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from havachat.errors import UploadNotFound

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Store:
    """JSON/JSONL objects under one bucket; `get_json` returns None for a missing key. Thread safe."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")

    def get_json(self, key: str) -> Any | None:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return json.loads(response["Body"].read())

    def put_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def put_jsonl(self, key: str, rows: Iterable[Any]) -> None:
        body = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows)
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="application/x-ndjson")

    def get_jsonl(self, key: str) -> list[Any]:
        response = self._s3.get_object(Bucket=self.bucket, Key=key)
        return [json.loads(line) for line in response["Body"].read().decode().splitlines() if line.strip()]

    def read_object(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> tuple[bytes, int]:
        """An input object's first `max_bytes + 1` bytes (enough to reject it) and its full size.

        The read is a ranged GET, so memory stays bounded however large the upload is; the full
        size comes from `Content-Range` and lets the error state the real size.
        """
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes=0-{max_bytes}"}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _MISSING or code == "NoSuchVersion":
                raise UploadNotFound(f"s3://{bucket}/{key} (version {version_id}) does not exist") from exc
            if code != "InvalidRange":  # an empty object has no byte 0
                raise
            return b"", 0
        data: bytes = response["Body"].read()
        content_range = str(response.get("ContentRange") or "")
        total = content_range.rpartition("/")[2]
        return data, int(total) if total.isdigit() else len(data)
