// ort_logits.js - runs a model in ONNX Runtime (onnxruntime-node, CPU, one thread) on the
// float32 images of a raw file, in batches, and writes its first output's values as raw
// little-endian float32: the ONNX Runtime side of test_quantize_cli.sh.
// Usage: node ort_logits.js ORT_MODULE_DIR MODEL.onnx IMAGES.f32 N C H W OUT.f32
'use strict';

const fs = require('fs');

async function main() {
  const [modDir, model, images, n, c, h, w, out] = process.argv.slice(2);
  const ort = require(modDir + '/onnxruntime-node');
  const N = Number(n), per = Number(c) * Number(h) * Number(w);
  const buf = fs.readFileSync(images);
  if (buf.length !== N * per * 4) throw new Error(images + ': ' + buf.length + ' bytes, want ' + N * per * 4);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const chunks = [];
  const B = 500;
  for (let i = 0; i < N; i += B) {
    const b = Math.min(B, N - i);
    const t = new ort.Tensor('float32', x.subarray(i * per, (i + b) * per), [b, Number(c), Number(h), Number(w)]);
    const feeds = {};
    feeds[session.inputNames[0]] = t;
    const y = (await session.run(feeds))[session.outputNames[0]];
    chunks.push(Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  }
  fs.writeFileSync(out, Buffer.concat(chunks));
  console.log('ONNX Runtime ' + (ort.env && ort.env.versions ? ort.env.versions.common : '') + ': ' + model + ' ok');
}

main().catch((e) => {
  console.error('error ' + String(e && e.message ? e.message : e).replace(/\s+/g, ' '));
  process.exit(1);
});
