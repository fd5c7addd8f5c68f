"""Demo and test tooling, never installed by `pip install postguard`: throwaway Tansu and PostgreSQL, the demo, sample posts, tiny test checkpoints."""
