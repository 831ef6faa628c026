"""The serverless pipeline as plain steps over ports; `havachat.aws` adapts them to AWS.

    contracts   run records, step inputs and outputs, summaries, event names (what adapters may import)
    keys        the S3 layout of a run and the ids derived from an upload
    ports       the Protocols the steps use (store, runs, items, events, metrics)
    plan        Plan (and resume): validate, chunk, write the manifest, record the run
    generate    GenerateBatch: one category batch, one structured LLM call (split when cut off)
    finalize    Finalize: merge, de-duplicate, write results, complete the run, publish the event
    content     Stage 2: conversations and stories from a finished run's items

Nothing here imports boto3 or an LLM SDK. This package file imports nothing, so an adapter that
imports `contracts` does not load the steps.
"""
