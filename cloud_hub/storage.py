"""Where the hub keeps blobs: a local folder (embedded default) or S3, behind one interface.

Keys are `<organisation uid>/blobs/<sha[:2]>/<sha256>`, so each organisation's data sits
under its own prefix. On S3 every object is written with server-side encryption, and boto3's
transfer manager uploads large blobs in parts.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from core.files import write_durably
from core.web.security import content_disposition

from .config import HubConfig

MULTIPART_THRESHOLD = 16 * 1024 * 1024


def blob_key(organisation_uid: str, sha256: str) -> str:
    """The storage key of one organisation's blob."""
    return f"{organisation_uid}/blobs/{sha256[:2]}/{sha256}"


class Storage(Protocol):
    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_stream(self, key: str, stream: BinaryIO) -> None: ...

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> BinaryIO: ...

    def download_url(self, key: str, filename: str, seconds: int = 300) -> str | None: ...

    def delete(self, key: str) -> None: ...


class LocalStorage:
    """Blobs as files under one folder (the embedded default)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("storage key outside the blob folder")
        return path

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as source:
            self.put_stream(key, source)

    def put_bytes(self, key: str, data: bytes) -> None:
        write_durably(self._path(key), data)

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")  # two writers never share it
        with open(partial, "wb") as handle:
            shutil.copyfileobj(stream, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def download_url(self, key: str, filename: str, seconds: int = 300) -> str | None:
        return None  # served by the hub itself

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Blobs as S3 objects in one bucket, encrypted at rest (SSE-S3)."""

    def __init__(self, bucket: str, endpoint_url: str | None, region: str):
        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}, signature_version="s3v4"),
        )
        self.transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)

    def ensure_bucket(self) -> None:
        """Create the bucket if it is not there (used by `init`; production buckets exist already)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(
            str(path), self.bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"}, Config=self.transfer
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256")

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        self.client.upload_fileobj(
            stream, self.bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"}, Config=self.transfer
        )

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def open(self, key: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def head(self, key: str) -> dict:
        """The object's metadata (size, encryption), for checks and tests."""
        return self.client.head_object(Bucket=self.bucket, Key=key)

    def download_url(self, key: str, filename: str, seconds: int = 300) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            ExpiresIn=seconds,
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(filename),
            },
        )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def archive(self, key: str, storage_class: str) -> None:
        """Move an object to a colder storage class in place (still readable at once with STANDARD_IA)."""
        self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            StorageClass=storage_class,
            ServerSideEncryption="AES256",
            MetadataDirective="COPY",
        )


def storage_for(config: HubConfig) -> Storage:
    """S3 when S3_BUCKET is set, otherwise the local blob folder."""
    if config.s3_bucket:
        return S3Storage(config.s3_bucket, config.s3_endpoint_url, config.s3_region)
    return LocalStorage(config.blobs_dir)
