"""The `hf` backend: transformers on CPU or GPU.

`loading` resolves and loads a model, `loglik` scores options by log-likelihood, `decode` runs the
continuous-batching generation loop, `batching` plans token-budget batches. Imports torch only here.
"""
