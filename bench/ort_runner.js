// ort_runner.js - the ONNX Runtime side of bench/run_bench.py: loads one model in
// onnxruntime-node (CPU, all graph optimisations, N intra-op threads), checks its output against
// PyTorch's, then answers the driver's timing requests on stdin/stdout.
//
// Usage: node bench/ort_runner.js MODEL.onnx INPUT.npy REF.npy THREADS WARMUP
// Protocol (one line each way, see run_bench.py): prints "ready {json}" once warm, then
//   "run K" -> "ok t1 ... tK" (ms per run)   "rss" -> "rss KB"   "quit" -> exits
//   "out PATH" -> "out" (the last output written as float32 .npy, for quant_bench.py).
// Any failure prints "error MESSAGE" and exits non-zero.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

function fail(msg) {
  process.stdout.write('error ' + String(msg).replace(/\s+/g, ' ') + '\n');
  process.exit(1);
}

// Reads a little-endian float32, C-order .npy (versions 1-3): all the zoo writes. Anything
// else is refused by name rather than misread.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) throw new Error(file + ': not a .npy file');
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    hstart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new Error(file + ': truncated .npy header');
    hlen = buf.readUInt32LE(8);
    hstart = 12;
  } else {
    throw new Error(file + ': unsupported .npy version ' + major);
  }
  if (hstart + hlen > buf.length) throw new Error(file + ': truncated .npy header');
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(file + ': malformed .npy header');
  if (descr[1] !== '<f4') throw new Error(file + ': dtype ' + descr[1] + ' (only <f4 is supported)');
  if (fortran[1] !== 'False') throw new Error(file + ': Fortran-order arrays are not supported');
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(file + ': bad shape ' + shape[1]);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length - off !== count * 4) {
    throw new Error(file + ': data holds ' + (buf.length - off) + ' bytes, shape needs ' + count * 4);
  }
  // Copy so the Float32Array is aligned whatever the header length was.
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { dims, data };
}

// Writes a float32 C-order .npy version 1.0 (header padded to a multiple of 64 bytes).
function writeNpy(file, dims, data) {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims.join(', ') +
    (dims.length === 1 ? ',' : '') + '), }';
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const buf = Buffer.alloc(10 + header.length + 4 * data.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(buf, 0);
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i], 10 + header.length + 4 * i);
  fs.writeFileSync(file, buf);
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as the maximum
  }
  return m;
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length !== 5) fail('usage: ort_runner.js MODEL.onnx INPUT.npy REF.npy THREADS WARMUP');
  const [modelPath, inputPath, refPath] = argv;
  const threads = parseInt(argv[3], 10);
  const warmup = parseInt(argv[4], 10);
  if (!(threads >= 1 && threads <= 256)) fail('THREADS must be in [1, 256], got ' + argv[3]);
  if (!(warmup >= 0 && warmup <= 1000)) fail('WARMUP must be in [0, 1000], got ' + argv[4]);

  let ort;
  try {
    ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    fail('onnxruntime-node is not installed: run ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix bench (' + e.message + ')');
  }
  const input = readNpy(inputPath);
  const ref = readNpy(refPath);

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', input.data, input.dims);
  const outName = session.outputNames[0];

  let out = null;
  for (let i = 0; i < Math.max(1, warmup); i++) out = (await session.run(feeds))[outName];
  const ready = {
    engine: 'onnxruntime',
    version: ort.env.versions ? ort.env.versions.node || ort.env.versions.common : 'unknown',
    load_ms: loadMs,
    max_abs_diff: maxAbsDiff(out.data, ref.data),
    ref_max_abs: maxAbsDiff(ref.data, new Float32Array(ref.data.length)),
  };
  process.stdout.write('ready ' + JSON.stringify(ready) + '\n');

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'run') {
      const k = parseInt(words[1], 10);
      if (!(k >= 1 && k <= 100000)) fail('run K needs K in [1, 100000], got ' + words[1]);
      const times = [];
      for (let i = 0; i < k; i++) {
        const s = process.hrtime.bigint();
        out = (await session.run(feeds))[outName];
        times.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
      process.stdout.write('ok ' + times.map((t) => t.toFixed(4)).join(' ') + '\n');
    } else if (words[0] === 'out') {
      if (words.length < 2) fail('out PATH needs a path');
      writeNpy(words[1], out.dims, out.data);
      process.stdout.write('out\n');
    } else if (words[0] === 'rss') {
      process.stdout.write('rss ' + process.resourceUsage().maxRSS + '\n');
    } else if (words[0] === '') {
      continue;
    } else if (words[0] === 'quit') {
      break;
    } else {
      fail('unknown command ' + JSON.stringify(line));
    }
  }
  await session.release();
  process.exit(0);
}

main().catch((e) => fail(e && e.message ? e.message : e));
