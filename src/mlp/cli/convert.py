"""``mlp convert SOURCE FOLDER``: a CSV or Parquet file larger than memory → a folder of .npy shards."""

from __future__ import annotations

from .. import convert as _convert
from ._common import out


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a big CSV or Parquet file into .npy shards for training",
                       description="Stream SOURCE (a .csv with a header row, a .parquet file, or a folder "
                                   "of .parquet files) once into FOLDER: X-00000.npy, y-00000.npy, … and "
                                   "meta.json with the classes and the input scaler's statistics. SOURCE "
                                   "is opened read-only; FOLDER must not exist. Then: mlp train FOLDER.")
    p.add_argument("source", metavar="SOURCE", help=".csv, .parquet, or a folder of .parquet files")
    p.add_argument("folder", metavar="FOLDER", help="the shard folder to write (must not exist)")
    p.add_argument("--target", metavar="COLUMN", help="the target column (default: the last one)")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="how to read the target (default: text or integers are classes, else regression)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="of the X shards")
    p.add_argument("--shard-mb", type=float, default=64, metavar="MB",
                   help="about this many megabytes of X per shard (default 64)")
    p.add_argument("--progress", action="store_true", default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args) -> int:
    meta = _convert.convert(args.source, args.folder, target=args.target, task=args.task, dtype=args.dtype,
                            shard_mb=args.shard_mb, progress=False if args.quiet else args.progress)
    if not args.quiet:
        what = (f"{len(meta['classes'])} classes" if meta["classes"] is not None
                else "a regression target")
        out(f"converted {args.source}: {meta['n_rows']} rows × {meta['n_features']} features, "
            f"{what}, into {len(meta['shards'])} shards → {args.folder} (train with: mlp train "
            f"{args.folder})")
    return 0
