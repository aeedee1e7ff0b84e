#!/usr/bin/python3
"""check_onnx.py — Debian's ONNX checker on a file written by `locus export --format onnx`.

    /usr/bin/python3 tools/ref/check_onnx.py MODEL.onnx

Runs onnx.checker.check_model(full_check=True) (which includes strict shape inference) and prints the
IR version, opset, node count and the inferred output shape. Exit 0: valid; 1: the checker refused it;
77: python3-onnx is not installed (apt-get install python3-onnx).
"""
import sys

try:
    import onnx
except ImportError:
    print("check_onnx: python3-onnx is not installed (apt-get install python3-onnx); skipped")
    sys.exit(77)


def main():
    model = onnx.load(sys.argv[1])
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # the checker raises ValidationError / InferenceError
        print("check_onnx: %s: onnx.checker.check_model(full_check=True) failed: %s" % (sys.argv[1], e))
        return 1
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    out = inferred.graph.output[0].type.tensor_type.shape
    dims = [d.dim_param or d.dim_value for d in out.dim]
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    print("check_onnx: %s: onnx %s checker (full_check) ok: IR %d, opset %s, %d nodes, %d initializers, output %s %s"
          % (sys.argv[1], onnx.__version__, model.ir_version, opset[0] if opset else "?", len(model.graph.node),
             len(model.graph.initializer), inferred.graph.output[0].name, dims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
