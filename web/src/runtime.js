// The exported model under onnxruntime-web: the ONNX file for the step, model.json for the
// metadata that onnxruntime-web cannot read from the file (written by `make web`).
import { LineFilter } from './line_filter.js';
import { FORMS, Prosody, TokenClasses } from './rules.js';

export class PoemModel {
  static async load(base) {
    const ort = globalThis.ort;
    ort.env.wasm.wasmPaths = new URL('ort/', base).href;  // must be absolute
    ort.env.wasm.numThreads = 1;
    const m = new PoemModel();
    const meta = await (await fetch(new URL('model.json', base))).json();
    m.session = await ort.InferenceSession.create(new URL(meta.file, base).href, { executionProviders: ['wasm'] });
    m.tokens = meta.vocab;
    m.index = new Map(m.tokens.map((t, i) => [t, i]));
    m.numReserved = 4 + 4;
    m.forms = meta.forms.map((name) => FORMS[name]);
    m.numLayers = meta.num_layers;
    m.hiddenDim = meta.hidden_dim;
    m.classes = TokenClasses.fromVocab(m.tokens, m.numReserved);
    m.prosody = meta.prosody ? Prosody.fromData(meta.prosody) : null;
    m.lineFilter = meta.novel ? new LineFilter(meta.novel, meta.novel_bloom) : null;
    return m;
  }

  zeroState() {
    const size = this.numLayers * this.hiddenDim, dims = [this.numLayers, 1, this.hiddenDim];
    const ort = globalThis.ort;
    return [new ort.Tensor('float32', new Float32Array(size), dims), new ort.Tensor('float32', new Float32Array(size), dims)];
  }

  async step(token, h, c) {
    const ort = globalThis.ort;
    const out = await this.session.run({ tokens: new ort.Tensor('int64', BigInt64Array.from([BigInt(token)]), [1]), h, c });
    return [out.logits.data, out.h_out, out.c_out];
  }
}
