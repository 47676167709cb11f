"""The GitHub edge. Pure modules build what is posted (review.py, markers.py, annotations.py,
retry.py, graphql.py, errors.py, records.py); client.py and api.py talk to the GitHub API."""
