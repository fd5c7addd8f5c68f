"""The moderators' workplace: review queue, verdicts, appeals, audit, verdict events, review page.

Modules: ``queue`` (the workflow), ``auth`` (moderator accounts), ``audit`` (the append-only log),
``events`` (verdict events and the outbox relay), ``export`` (verdicts as training JSONL),
``metrics``, ``web`` (the review page) and ``cli`` (``postguard review ...``). See docs/review.md.
"""
