"""`reviewbot eval`: review quality you can measure. cases (labelled diffs) → run (the review
pipeline, per policy) → matching (findings against labels) → scoring → render."""
