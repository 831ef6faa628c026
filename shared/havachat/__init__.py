"""havachat: vocabulary lists in, validated language-learning items out.

Kept light on purpose: importing the package pulls in pydantic only. The LLM stack
(`havachat.llm`) and AWS adapters (`havachat.aws`) are imported where they are used.
"""

__version__ = "0.1.0"
