"""``python -m edgernn``: the same command line as ``edgernn``."""

from edgernn.cli import main

if __name__ == "__main__":
    main()
