"""Scoring a post and deciding it: the post contract, images, OCR reading, the model call, the policy, the pipeline."""
