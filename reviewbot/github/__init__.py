"""The GitHub edge: `reviewbot github`, the run inside GitHub Actions (entry point:
`run.run_action`). Pure: markers, review, summary, annotations, records, errors, retry,
graphql. I/O: events and outputs (the Actions environment and files), client and api (the
GitHub API), base_commit (config and prompts of the base commit), publish, run and
conversation (the run and the answers to comments)."""
