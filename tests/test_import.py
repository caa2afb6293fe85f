import subprocess
import sys


def test_import_mlp_needs_numpy_alone():
    code = ("import sys, mlp; heavy = [m for m in ('matplotlib', 'sympy', 'torch', 'sklearn', "
            "'onnx', 'onnxruntime', 'safetensors', 'tqdm', 'pandas', 'mlxtend') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import mlp imported {out.stdout.strip()}"


def test_public_names_exist():
    import mlp
    for name in ("Network", "Dense", "MSE", "CrossEntropy", "BinaryCrossEntropy", "gradcheck",
                 "collapse", "linear_baseline", "datasets", "__version__"):
        assert hasattr(mlp, name), name
