// ort_batch.js — runs ONNX models in ONNX Runtime (onnxruntime-node, CPU): one job per line of a list file,
// "MODEL.onnx INPUT.npy OUTPUT.npy", writing the first output. Usage: node ort_batch.js LIST
// Needs onnxruntime-node on NODE_PATH (./dev installs it into .deps/node_modules).
const fs = require('fs');
const ort = require('onnxruntime-node');
function readNpy(path) {
  const b = fs.readFileSync(path);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
  const hlen = b.readUInt16LE(8), header = b.toString('latin1', 10, 10 + hlen);
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) throw new Error(path + ': need <f4 C order');
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter(s => s.trim()).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return { shape, data };
}
function writeNpy(path, shape, data) {
  let h = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + h.length + 1) % 64) h += ' ';
  h += '\n';
  const head = Buffer.alloc(10); head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}
(async () => {
  const jobs = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(l => l.trim()).map(l => l.trim().split(/\s+/));
  for (const [model, input, output] of jobs) {
    const x = readNpy(input);
    const sess = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    const res = await sess.run({ [sess.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) });
    const y = res[sess.outputNames[0]];
    writeNpy(output, y.dims, y.data);
  }
})().catch(e => { console.error(e.message || e); process.exit(1); });
