"""Local run on in-process moto: the real state machine definition and handlers, no AWS account."""
