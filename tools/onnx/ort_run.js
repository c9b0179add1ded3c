#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (the onnxruntime-node package that scripts/install-deps
// puts under $CNNKIT_ORT_DIR, default /opt/cnnkit/ort) on a float32 .npy and writes the first
// output as a float32 .npy: the independent runtime that cnnkit's ONNX exporter is checked
// against. Prints one JSON line {inputs, outputs, metadata, output_shape} on stdout.
// Deliberately tiny: float32 C-order .npy only, the model's first input and first output only.
'use strict';

const fs = require('fs');
const path = require('path');

const USAGE = 'usage: node tools/onnx/ort_run.js MODEL.onnx IN.npy OUT.npy [--input-name NAME]';

class UsageError extends Error {}

// ---- .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html) ----------
// Versions 1.0 (uint16 header length) and 2.0/3.0 (uint32); dtype '<f4', C order only.

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) {
    throw new Error(`${file}: not a .npy file (magic \\x93NUMPY missing)`);
  }
  const major = buf[6];
  let headerLen;
  let headerStart;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    headerStart = 12;
  } else {
    throw new Error(`${file}: .npy version ${major}.${buf[7]} not supported (expected 1.0, 2.0 or 3.0)`);
  }
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', headerStart, headerStart + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: malformed .npy header: ${header.trim()}`);
  if (descr[1] !== '<f4') {
    throw new Error(`${file}: dtype '${descr[1]}' not supported (expected '<f4', float32 little-endian)`);
  }
  if (fortran[1] !== 'False') throw new Error(`${file}: fortran_order=True not supported (expected C order)`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${file}: bad shape (${shape[1]})`);
  const count = dims.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  if (buf.length - dataStart !== count * 4) {
    throw new Error(`${file}: shape [${dims}] needs ${count * 4} data bytes, file has ${buf.length - dataStart}`);
  }
  // Copy into a fresh (aligned) Float32Array; x64 and arm64 are little-endian like '<f4'.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(buf.subarray(dataStart, dataStart + count * 4));
  return { data, dims };
}

function writeNpy(file, data, dims) {
  const shapeText = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads so that magic + version + length + header + '\n' is a multiple of 64.
  const pad = (64 - ((10 + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  if (header.length > 0xffff) throw new Error(`${file}: .npy header too long`);
  const pre = Buffer.alloc(10);
  NPY_MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(tmp, file);
}

// ---- ModelProto.metadata_props ------------------------------------------------------------
// onnxruntime-node's session exposes input/output names and types but not the model's custom
// metadata (the C API's ModelMetadata is not bound), so read metadata_props (field 14, repeated
// StringStringEntryProto {key = 1, value = 2}) with a minimal protobuf walk of the top level.

function readVarint(buf, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * scale; // arithmetic, not bit ops: lengths may exceed 2^31
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
    if (scale > 2 ** 63) throw new Error('varint too long');
  }
}

// Calls fn(fieldNumber, wireType, valueOrSubBuffer) for each field of the message in buf.
function walkFields(buf, fn) {
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      fn(field, wire, v);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error(`field ${field} runs past the end`);
      fn(field, wire, buf.subarray(pos, pos + len));
      pos += len;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} (field ${field})`);
    }
  }
}

function readMetadataProps(file) {
  const metadata = {};
  try {
    walkFields(fs.readFileSync(file), (field, wire, value) => {
      if (field !== 14 || wire !== 2) return;
      let key = '';
      let val = '';
      walkFields(value, (f, w, v) => {
        if (w !== 2) return;
        if (f === 1) key = v.toString('utf8');
        if (f === 2) val = v.toString('utf8');
      });
      metadata[key] = val;
    });
  } catch (e) {
    throw new Error(`${file}: cannot read metadata_props: ${e.message}`);
  }
  return metadata;
}

// ---- main ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const positional = [];
  let inputName = null;
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--input-name') {
      if (i + 1 >= argv.length) throw new UsageError('--input-name needs a value');
      inputName = argv[++i];
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (argv[i].startsWith('--')) {
      throw new UsageError(`unknown option ${argv[i]}`);
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 3) throw new UsageError(`expected 3 arguments, got ${positional.length}`);
  return { model: positional[0], input: positional[1], output: positional[2], inputName };
}

function loadOrt() {
  const dir = process.env.CNNKIT_ORT_DIR || '/opt/cnnkit/ort';
  const pkg = path.join(dir, 'node_modules', 'onnxruntime-node');
  try {
    return require(pkg);
  } catch (e) {
    throw new Error(`cannot load onnxruntime-node from ${pkg} (run scripts/install-deps, ` +
                    `or set CNNKIT_ORT_DIR): ${e.message}`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  if (!fs.existsSync(args.model)) throw new Error(`${args.model}: no such file`);
  const metadata = readMetadataProps(args.model);
  const x = readNpy(args.input);
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
  });
  const inputName = args.inputName || session.inputNames[0];
  if (!session.inputNames.includes(inputName)) {
    throw new Error(`${args.model}: no input named '${inputName}' (inputs: ${session.inputNames.join(', ')})`);
  }
  const feeds = { [inputName]: new ort.Tensor('float32', x.data, x.dims) };
  const results = await session.run(feeds);
  const outName = session.outputNames[0];
  const y = results[outName];
  if (y.type !== 'float32') throw new Error(`${args.model}: output '${outName}' is ${y.type}, expected float32`);
  writeNpy(args.output, y.data, y.dims);
  console.log(JSON.stringify({
    inputs: session.inputNames,
    outputs: session.outputNames,
    metadata,
    output_shape: Array.from(y.dims),
  }));
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  if (e instanceof UsageError) console.error(USAGE);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});
