// The twin of poemnet/common/forms.py: a form's exact layout. The layouts and the ranges of the
// characters come from model.json (model_file.js), so that no table here can drift from Python's.
export const COMMA = '，', PERIOD = '。';

export function hanziTest(ranges) {  // [[lo, hi] inclusive code points] -> (string) -> is one hanzi
  return (token) => {
    const chars = Array.from(token);
    if (chars.length !== 1) return false;
    const cp = chars[0].codePointAt(0);
    return ranges.some(([lo, hi]) => lo <= cp && cp <= hi);
  };
}

export class Form {
  constructor(name, lineLen, numLines) { Object.assign(this, { name, lineLen, numLines }); }

  get length() { return this.numLines * (this.lineLen + 1); }  // characters and punctuation

  slot(position) {  // what belongs at `position`: 'char', COMMA, PERIOD or 'end'
    if (position >= this.length) return 'end';
    const line = Math.floor(position / (this.lineLen + 1)), col = position % (this.lineLen + 1);
    if (col < this.lineLen) return 'char';
    return line % 2 === 0 ? COMMA : PERIOD;
  }

  lineStart(position) {  // the line index if `position` starts a line, else null
    const line = Math.floor(position / (this.lineLen + 1)), col = position % (this.lineLen + 1);
    return col === 0 && line < this.numLines ? line : null;
  }

  matches(text, isHanzi) {
    const chars = Array.from(text);
    return chars.length === this.length && chars.every((ch, p) => {
      const slot = this.slot(p);
      return slot === 'char' ? isHanzi(ch) : ch === slot;
    });
  }

  lines(text) {
    const chars = Array.from(text), step = this.lineLen + 1, out = [];
    for (let i = 0; i < chars.length; i += step) out.push(chars.slice(i, i + step).join(''));
    return out;
  }
}
