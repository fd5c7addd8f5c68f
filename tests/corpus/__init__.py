"""Generated hostile input for the service: see :mod:`tests.corpus.hostile`."""
