"""Datasets for training and evaluating the classifier: loaders, label mapping, the meme generator."""
