"""Sum py-spy's collapsed stacks (``py-spy record --format raw``) by function: ``python bench/profile_stacks.py
FILE [--top 40] [--match TEXT]`` prints each function's share of the samples, inclusive (the function or anything
it called was running) and exclusive (the function itself), for finding where a process spends its CPU."""

from __future__ import annotations

import argparse
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only functions whose frame text contains this")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    with open(args.file) as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            samples = int(count)
            total += samples
            frames = stack.split(";")
            for frame in set(frames):
                inclusive[frame] += samples
            exclusive[frames[-1]] += samples
    print(f"{total} samples")
    print(f"{'incl %':>7} {'excl %':>7}  function")
    shown = [(f, n) for f, n in inclusive.most_common() if args.match in f][: args.top]
    for frame, samples in shown:
        print(f"{100 * samples / total:7.1f} {100 * exclusive[frame] / total:7.1f}  {frame}")


if __name__ == "__main__":
    main()
