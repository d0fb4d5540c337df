"""What a run measured and how it is judged: histograms, outcomes, phases, leaks, thresholds, the result document."""
