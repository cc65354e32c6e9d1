"""Running pipelines: code archives, Python environments, the run queue and its executors."""
