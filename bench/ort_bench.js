// ort_bench.js — times ONNX Runtime (onnxruntime-node, CPU) on a model: the same protocol as `hpk bench`.
// Usage: node ort_bench.js MODEL.onnx [--batch B] [--input-size S] [--threads N] [--runs R] [--spin 0|1]
// --spin 0 sets session.intra_op.allow_spinning = 0 (ORT's thread pool then blocks instead of spinning).
// Prints per-run times on stderr and, last, "<number> img/s" and "peak_rss_kb <n>" (VmHWM of this process).
const fs = require('fs');
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const opt = { batch: 32, 'input-size': 224, threads: 2, runs: 5, spin: 1 };
let model = null;
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--')) opt[args[i].slice(2)] = Number(args[++i]);
  else model = args[i];
}
if (!model) { console.error('usage: node ort_bench.js MODEL.onnx [--batch B] [--input-size S] [--threads N] [--runs R]'); process.exit(2); }
(async () => {
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: opt.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: String(opt.spin) } } } });
  const n = opt.batch * 3 * opt['input-size'] * opt['input-size'];
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = (s / 4294967296) * 2 - 1; }
  const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', data, [opt.batch, 3, opt['input-size'], opt['input-size']]) };
  await sess.run(feeds); // warm-up
  const times = [];
  for (let r = 0; r < opt.runs; r++) {
    const t0 = process.hrtime.bigint();
    await sess.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    console.error(`run ${r + 1}: ${times[r].toFixed(3)} s`);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  const hwm = (fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)/) || [0, 0])[1];
  console.log(`peak_rss_kb ${hwm}`);
  console.log(`${(opt.batch / med).toFixed(1)} img/s`);
})().catch(e => { console.error(e.message || e); process.exit(1); });
