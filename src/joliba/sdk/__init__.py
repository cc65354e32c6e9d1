"""The pipeline SDK: decorators, the run context and the two ways a pipeline runs.

Locally, ``python pipeline.py -c '{...}'`` runs it in-process (:mod:`joliba.sdk.local`); on
the platform the runner starts ``python -m joliba.sdk.entry`` (:mod:`joliba.sdk.entry`).
Nothing here imports server code, and only the stdlib is imported with ``joliba``.
"""
