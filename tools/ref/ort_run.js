// ort_run.js — runs an ONNX model with onnxruntime-node on a raw float32 batch (for tests/test_interop.c).
//   node tools/ref/ort_run.js MODEL.onnx IN.f32 N C H W OUT.f32
// IN.f32: N*C*H*W little-endian floats, fed as "input"; OUT.f32 gets the "logits" output's floats.
// Needs the onnxruntime-node package on NODE_PATH (tools/onnx-runtime.sh installs it).
"use strict";
const fs = require("fs");
const ort = require("onnxruntime-node");

async function main() {
  const [model, inPath, n, c, h, w, outPath] = process.argv.slice(2);
  const dims = [n, c, h, w].map(Number);
  const buf = fs.readFileSync(inPath);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ input: new ort.Tensor("float32", x, dims) });
  const logits = out.logits;
  fs.writeFileSync(outPath, Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength));
  console.log("ort_run: onnxruntime-node " + (ort.env.versions ? ort.env.versions.common : "") +
              " ran " + model + ": logits " + JSON.stringify(logits.dims));
}
main().catch((e) => { console.error("ort_run: " + e); process.exit(1); });
