"""The local side of havachat, kept out of the Lambda layer: the `havachat` command and the local runner.

cli       the `havachat` command (validate, plan, run, export, content)
runner    the real state machine and handlers on in-process moto, no AWS account
template  what the runner reads from template.yaml
export    CSV, Anki and JSONL exports of a run's items
"""
