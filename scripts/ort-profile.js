// node scripts/ort-profile.js MODEL.onnx CxHxW BATCH [runs]: ONNX Runtime's time per node.
//
// Runs the model on random input with ONNX Runtime's profiler on (2 threads, every graph
// optimisation, as ../shared/ortref/bench.js times it) and prints each node's median kernel
// time over the runs after the first fifth, longest first, with their sum: where ONNX
// Runtime's time goes, layer by layer (a fused node is named after its last output: a
// residual block's second convolution, its sum and ReLU, is "relu/Relu"). NODE_PATH picks the
// package: the installed one (scripts/install-onnx-ref.sh) or its AVX2 copy
// (scripts/ort-avx2.py). The profiler's file goes to a temporary folder, removed after.
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');

(async () => {
  const [model, chw, batch, runsArg] = process.argv.slice(2);
  if (!batch) {
    console.error('usage: node scripts/ort-profile.js MODEL.onnx CxHxW BATCH [runs]');
    process.exit(2);
  }
  const runs = Number(runsArg || 50);
  const shape = [Number(batch), ...chw.split('x').map(Number)];
  if (shape.some((v) => !Number.isInteger(v) || v <= 0) || !Number.isInteger(runs) || runs < 5) {
    console.error(`ort-profile: want CxHxW and BATCH positive integers and at least 5 runs, got ${chw} ${batch} ${runsArg}`);
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-'));
  try {
    const s = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
    });
    const n = shape.reduce((a, b) => a * b);
    const x = new ort.Tensor('float32', Float32Array.from({ length: n }, () => Math.random() * 2 - 1), shape);
    for (let i = 0; i < runs; i++) await s.run({ [s.inputNames[0]]: x });
    s.endProfiling();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    const times = new Map();
    for (const e of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
        const k = e.name.slice(0, -'_kernel_time'.length);
        if (!times.has(k)) times.set(k, []);
        times.get(k).push(e.dur);
      }
    }
    const rows = [...times].map(([k, v]) => {
      v = v.slice(Math.floor(v.length / 5)).sort((a, b) => a - b);
      return [v[v.length >> 1], k];
    }).sort((a, b) => b[0] - a[0]);
    const total = rows.reduce((a, r) => a + r[0], 0);
    console.log(`onnxruntime ${require('onnxruntime-node/package.json').version} ${model} batch=${batch}: ${(total / 1e3).toFixed(3)} ms in its nodes (medians of ${runs} runs)`);
    for (const [us, k] of rows) console.log(`${(us / 1e3).toFixed(3).padStart(9)} ms  ${k}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((e) => { console.error(`ort-profile: ${e}`); process.exit(1); });
