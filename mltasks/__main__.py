"""``python -m mltasks`` (and ``torchrun -m mltasks``) runs the command line."""

from mltasks.cli import main

if __name__ == "__main__":
    main()
