// The twin of poemnet/common/forms.py: a form's exact layout, lines of characters each closed by a
// punctuation mark (a 诗 form or a 词牌). The layouts and the ranges of the characters come from
// model.json (model_file.js), so that no table here can drift from Python's.
export const COMMA = '，', PERIOD = '。';
export const PUNCTUATION = '，。、？！；';  // each ends a line

export function hanziTest(ranges) {  // [[lo, hi] inclusive code points] -> (string) -> is one hanzi
  return (token) => {
    const chars = Array.from(token);
    if (chars.length !== 1) return false;
    const cp = chars[0].codePointAt(0);
    return ranges.some(([lo, hi]) => lo <= cp && cp <= hi);
  };
}

export class Form {
  // layout: [[characters in the line, its punctuation mark], ...]; pian: the 下片's first line or null
  constructor(name, layout, { kind = '诗', pian = null, traditional = null } = {}) {
    Object.assign(this, { name, layout, kind, pian, traditional });
    this.starts = [0];  // each line's first position, then the poem's length
    for (const [n] of layout) this.starts.push(this.starts.at(-1) + n + 1);
  }

  get numLines() { return this.layout.length; }

  get lineLengths() { return this.layout.map(([n]) => n); }

  get lineLen() {  // characters per line where every line has as many (a 诗 form), else null
    const lengths = new Set(this.layout.map(([n]) => n));
    return lengths.size === 1 ? [...lengths][0] : null;
  }

  get length() { return this.starts.at(-1); }  // characters and punctuation

  linePosition(line) { return this.starts[line]; }  // a line's first character

  lineEnd(line) { return this.starts[line + 1] - 2; }  // a line's last character

  locate(position) {  // [line, column] inside the poem (the mark's column is the line's length), or [null, null]
    if (position < 0 || position >= this.length) return [null, null];
    let line = 0;
    while (this.starts[line + 1] <= position) line++;
    return [line, position - this.starts[line]];
  }

  slot(position) {  // what belongs at `position`: 'char', the line's mark, or 'end'
    const [line, col] = this.locate(position);
    if (line === null) return 'end';
    const [n, mark] = this.layout[line];
    return col < n ? 'char' : mark;
  }

  lineStart(position) {  // the line index if `position` starts a line, else null
    const [line, col] = this.locate(position);
    return col === 0 ? line : null;
  }

  matches(text, isHanzi) {
    const chars = Array.from(text);
    return chars.length === this.length && chars.every((ch, p) => {
      const slot = this.slot(p);
      return slot === 'char' ? isHanzi(ch) : ch === slot;
    });
  }

  lines(text) {  // each line with its mark
    const chars = Array.from(text);
    return this.layout.map((_, line) => chars.slice(this.starts[line], this.starts[line + 1]).join(''));
  }
}
