"""Stage 2: conversations and stories written from a run's learning items.

    models    the response models and `ContentDocument` (content.json)
    prompts   the content system prompt and the per-kind user message
    checks    what is kept of an answer: cited items and words, words outside the level, ids
    generate  chunking by the token budget and the calls (one per content kind and chunk)

The step over the ports is `havachat.pipeline.content`.
"""
