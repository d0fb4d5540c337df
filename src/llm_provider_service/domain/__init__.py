"""The pure domain: job and comparison models, the error tree, prompt building and output validation."""
