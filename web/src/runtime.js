// The twin of poemnet/generation/runtime.py: the exported model under onnxruntime-web. The ONNX
// file holds the step; model.json (written by `make web`) the metadata onnxruntime-web cannot read.
// `ort` is the page's global onnxruntime-web, or the module a Node test imports.
import { UserError } from './errors.js';
import { DamagedModel, readMetadata } from './model_file.js';

export class PoemModel {
  static async load(base, ort = globalThis.ort) {  // the page: model.json and the model file beside it
    ort.env.wasm.wasmPaths = new URL('ort/', base).href;  // must be absolute
    const json = await (await fetch(new URL('model.json', base))).json();
    return PoemModel.create(ort, json, new URL(json.file, base).href);
  }

  static async create(ort, json, source) {  // source: the model file's URL or bytes
    const model = new PoemModel();
    model.meta = checked(() => readMetadata(json));
    ort.env.wasm.numThreads = 1;
    model.ort = ort;
    model.session = await ort.InferenceSession.create(source, { executionProviders: ['wasm'] });
    const { vocab, forms, canonicalForm, script, numLayers, hiddenDim } = model.meta;
    Object.assign(model, { vocab, forms, canonicalForm, script, numLayers, hiddenDim });
    return model;
  }

  get prosody() { return checked(() => this.meta.prosody()); }  // checked and decoded on first use

  get lineFilter() { return checked(() => this.meta.lineFilter()); }

  zeroState() {
    const size = this.numLayers * this.hiddenDim, dims = [this.numLayers, 1, this.hiddenDim];
    return [0, 1].map(() => new this.ort.Tensor('float32', new Float32Array(size), dims));
  }

  async step(token, h, cell) {  // -> [logits, h, cell]
    const tokens = new this.ort.Tensor('int64', BigInt64Array.from([BigInt(token)]), [1]);
    const out = await this.session.run({ tokens, h, c: cell });
    return [out.logits.data, out.h_out, out.c_out];
  }
}

function checked(read) {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof DamagedModel)) throw e;
    throw new UserError(`model.json is damaged (${e.message.slice(0, 120)}): rebuild the page with make web`);
  }
}
