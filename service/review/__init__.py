"""The moderators' workplace: review queue, verdicts, appeals, audit, verdict events, review page.

Modules: ``queue`` (claiming and listing), ``verdicts`` (resolving and appealing), ``auth``
(moderator accounts), ``audit`` (the append-only log), ``events`` (verdict events and the outbox
relay), ``export`` (verdicts as training JSONL), ``metrics``, ``web`` + ``web_security`` (the
review page) and ``cli`` (``postguard review ...``). See docs/review.md.
"""
