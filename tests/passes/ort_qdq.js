// ort_qdq.js - runs every model make_qdq_models.py wrote in ONNX Runtime (onnxruntime-node from
// bench/node_modules, CPU, all graph optimisations: its own QDQ fusion) on the model's input and
// writes the first output, converted to float32, as NAME.ort.npy for test_qdq_models.c.
//
// Usage: node tests/passes/ort_qdq.js DIR
'use strict';

const fs = require('fs');
const path = require('path');

// Reads a little-endian float32 C-order .npy (what numpy.save wrote for the inputs).
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(file + ': not a .npy file');
  const v1 = buf[6] === 1;
  const hlen = v1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = v1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || !/'fortran_order':\s*False/.test(header)) {
    throw new Error(file + ': expected a C-order <f4 array, header ' + header.trim());
  }
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
    .filter((s) => s.length > 0).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length - off !== 4 * count) throw new Error(file + ': size does not match shape');
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { dims, data };
}

function writeNpyF32(file, dims, values) {
  const shape = '(' + dims.join(', ') + (dims.length === 1 ? ',' : '') + ')';
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ', }';
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + 4 * values.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < values.length; i++) out.writeFloatLE(Number(values[i]), 10 + header.length + 4 * i);
  fs.writeFileSync(file, out);
}

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: ort_qdq.js DIR');
  let ort;
  try {
    ort = require(path.join(__dirname, '..', '..', 'bench', 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    throw new Error('onnxruntime-node is not installed: run ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix bench (' + e.message + ')');
  }
  const models = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort();
  if (models.length === 0) throw new Error(dir + ': no models');
  for (const m of models) {
    const stem = m.slice(0, -5);
    const x = readNpy(path.join(dir, stem + '.x.npy'));
    const session = await ort.InferenceSession.create(path.join(dir, m), {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1,
    });
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
    const y = (await session.run(feeds))[session.outputNames[0]];
    writeNpyF32(path.join(dir, stem + '.ort.npy'), y.dims, y.data);
    process.stdout.write(m + ': ' + y.type + ' [' + y.dims.join(', ') + ']\n');
    await session.release();
  }
}

main().catch((e) => {
  process.stderr.write('ort_qdq.js: ' + (e && e.message ? e.message : e) + '\n');
  process.exit(1);
});
