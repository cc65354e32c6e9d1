"""Object storage through fsspec: a local folder by default, any S3-compatible store by URL."""
