"""`python -m pipeline.generate`: usable before, and without, the `pipeline` CLI."""

from .command import generate_command

if __name__ == "__main__":
    generate_command()
