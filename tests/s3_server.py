"""An S3-compatible endpoint for the tests: moto's server mode on loopback, in this process.

``start()`` returns the running server and what a test needs to reach it: the endpoint, fsspec
``storage_options`` for s3fs and a boto3 client to upload with. Skips (with the reason) when moto,
its server's Flask or s3fs is not installed; CI installs them (``.ci/run``)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Union

import pytest

KEY = SECRET = "testing"


@dataclass
class S3:
    server: Any
    endpoint: str
    client: Any
    storage_options: Dict[str, Any]

    def upload(self, bucket: str, local: Union[str, Path], prefix: str) -> str:
        """Uploads a file or every file below a folder under ``prefix``; returns ``s3://bucket/prefix``."""
        local = Path(local)
        if local.is_file():
            self.client.upload_file(str(local), bucket, prefix)
        else:
            for path in sorted(local.rglob("*")):
                if path.is_file():
                    self.client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
        return f"s3://{bucket}/{prefix}"


def start() -> S3:
    pytest.importorskip("moto.server", reason="the S3 tests need moto's server mode: pip install 'moto[server]'")
    pytest.importorskip("flask", reason="moto's server mode needs flask: pip install 'moto[server]'")
    pytest.importorskip("s3fs", reason="the S3 tests need s3fs: pip install s3fs")
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's backends are per process, not per server: start from empty buckets.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).read()
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                          region_name="us-east-1")
    # No listings cache: a later server may get the same port, and s3fs would reuse the cached
    # filesystem instance (same options) with the listings of the earlier server's buckets.
    options = {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
               "use_listings_cache": False}
    return S3(server, endpoint, client, options)
