"""HTTP plumbing shared by the S3, GCS and HTTP backends (the HTTP/1.1 pool, aiohttp sessions)."""
