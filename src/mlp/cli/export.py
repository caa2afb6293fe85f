"""``mlp export MODEL --format onnx|torch --out PATH``: the model for ONNX Runtime or PyTorch."""

from __future__ import annotations

from ..interop import EXPORT_FORMATS, export
from ._common import check_out_folder, load_model, note, out


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a saved model as ONNX or a PyTorch module",
                       description="ONNX (Gemm + activation operators, opset 17, runs in ONNX Runtime) "
                                   "or a torch.nn.Sequential saved with torch.save. A model's input "
                                   "scaling is folded into the first layer.")
    p.add_argument("model", metavar="MODEL", help="a model file written by mlp train (.safetensors)")
    p.add_argument("--format", required=True, choices=list(EXPORT_FORMATS))
    p.add_argument("--out", required=True, metavar="PATH", help="the file to write")
    p.set_defaults(func=run)


def run(args) -> int:
    net = load_model(args.model)
    check_out_folder(args.out, inputs={"model file": args.model})
    export(net, args.out, args.format)
    folded = ", input scaling folded into layer 1" if net.scaler is not None else ""
    out(f"wrote {args.out} ({args.format}, {'-'.join(map(str, net.sizes))}, {net.dtype.name}{folded})")
    if args.format == "torch":
        note(f"load it with torch.load({args.out!r}, weights_only=False) (a pickled nn.Sequential)")
    return 0
