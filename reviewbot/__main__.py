"""Edge: `python -m reviewbot` runs the same console entry point as the `reviewbot` script."""

from .cli import main

if __name__ == "__main__":
    main()
