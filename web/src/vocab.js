// The twin of poemnet/common/vocab.py: the specials, then one token per form, then characters.
// How many ids are reserved, and which code points are characters, model.json says.
import { hanziTest } from './forms.js';

export const SPECIALS = ['<pad>', '<bos>', '<eos>', '<unk>'];

export function formToken(formName) { return `<${formName}>`; }

export class Vocab {
  constructor(tokens, numReserved, hanziRanges) {
    this.tokens = tokens;
    this.index = new Map(tokens.map((t, i) => [t, i]));
    if (this.index.size !== tokens.length) throw new Error('the vocabulary has duplicate tokens');
    if (SPECIALS.some((t, i) => tokens[i] !== t)) throw new Error(`the vocabulary must start with ${SPECIALS.join(' ')}`);
    [this.padId, this.bosId, this.eosId, this.unkId] = SPECIALS.map((t) => this.index.get(t));
    this.numReserved = numReserved;
    this.isHanzi = hanziTest(hanziRanges);
  }

  get length() { return this.tokens.length; }

  has(ch) { return this.index.has(ch); }

  formId(formName) { return this.index.get(formToken(formName)); }

  decode(ids) { return ids.filter((i) => i >= this.numReserved).map((i) => this.tokens[i]).join(''); }
}
