// The twin of poemnet/generation/topic.py: a title prefix, keywords that must appear, a given first line.
// - A title is read before the form token (<bos> title <title> <form> poem), by a model whose
//   vocabulary reserves <title>; a model without it refuses one.
// - A keyword appears inside one line, contiguously, not on the line's last character (the rhyme's
//   and the tones' place). Once a line's last characters begin an unplaced keyword the rule forces
//   the rest; when a keyword can no longer wait (as many keywords left as lines), the rule starts it
//   at the line's beginning.
// - A first line is forced character by character (a hard rule, like an acrostic).
// toChar(ch, what) is Python's to_model_char for the model (request.js's modelChar).
import { UserError } from './errors.js';

export const MAX_TITLE = 12;  // the builder cuts titles at this length too
export const TITLE_END = '<title>';
const TRAILING = /[，。、？！；,.]+$/u;

function check(ok, message) {
  if (!ok) throw new UserError(message);
}

export function titleEndId(vocab) {  // the <title> token's id, or null for a model trained without titles
  const id = vocab.index.get(TITLE_END);
  return id !== undefined && id < vocab.numReserved ? id : null;
}

export function titlePrefixIds(vocab, title) {  // a title already in the model's characters -> its token ids
  return title ? [...Array.from(title, (ch) => vocab.index.get(ch)), titleEndId(vocab)] : [];
}

export function checkTitle(vocab, toChar, title) {  // the title in the model's characters; null for none
  if (title === null || title === undefined) return null;
  check(titleEndId(vocab) !== null,
        'this model was not trained with titles: leave out the title, or use a model that knows them');
  const chars = Array.from(title.trim());
  check(chars.length, 'the title is empty: give a title such as 秋夜寄友, or leave it out');
  check(chars.length <= MAX_TITLE, `the title '${chars.join('')}' has ${chars.length} characters, at most ${MAX_TITLE}: shorten it`);
  return chars.map((ch) => toChar(ch, 'title character')).join('');
}


export function checkKeywords(vocab, toChar, form, keywords) {  // each checked to fit inside one line before its end
  const room = Math.min(...form.lineLengths) - 1, result = [];
  for (const given of keywords ?? []) {
    const word = Array.from(given.trim());
    check(word.length, 'the keywords have an empty keyword: separate keywords with commas, e.g. 江,月,孤舟');
    check(word.length <= room,
          `the keyword '${word.join('')}' has ${word.length} characters; in a ${form.name} a keyword fits in ${room}: shorten it`);
    result.push(word.map((ch) => toChar(ch, 'keyword character')).join(''));
  }
  check(result.length <= form.numLines,
        `the keywords give ${result.length} keywords for the ${form.numLines} lines of a ${form.name}: give at most one per line`);
  return result;
}

export function checkFirstLine(vocab, toChar, form, text) {  // the first line in the model's characters; null for none
  if (text === null || text === undefined) return null;
  const chars = Array.from(text.trim().replace(TRAILING, '')), length = form.lineLengths[0];
  const odd = chars.find((ch) => !vocab.isHanzi(ch));
  check(odd === undefined, `the first line '${chars.join('')}' holds '${odd}', not a Chinese character: give the line's `
        + 'characters only, e.g. 床前明月光');
  check(chars.length === length,
        `the first line '${chars.join('')}' has ${chars.length} characters; the first line of a ${form.name} has ${length}`);
  return chars.map((ch) => toChar(ch, 'first line character')).join('');
}

export function forcedRule(positions, size) {  // a hard rule: {position: token id} forced (a first line)
  const masks = new Map(Object.entries(positions).map(([p, token]) => {
    const mask = new Uint8Array(size);
    mask[token] = 1;
    return [Number(p), mask];
  }));
  return (position) => masks.get(position) ?? null;
}

export function lineSpans(form) {  // [[start position, length]] of each line
  return form.lineLengths.map((n, line) => [form.linePosition(line), n]);
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// The soft rule that places every keyword (arrays of token ids) inside one line of the poem.
export function keywordRule(form, keywords, size) {
  const spans = lineSpans(form);

  function placed(row, upto) {  // keyword indices found complete in the row's text before `upto`
    const found = new Set();
    for (const [start, length] of spans) {
      const line = row.slice(start, Math.max(start, Math.min(start + length, upto)));
      keywords.forEach((word, k) => {
        for (let i = 0; i + word.length <= line.length; i++) if (same(line.slice(i, i + word.length), word)) found.add(k);
      });
    }
    return found;
  }

  function wanted(row, position) {  // the token this poem must write at `position`, or null
    const line = spans.findIndex(([s, n]) => s <= position && position < s + n);
    if (line < 0) return null;
    const [start, length] = spans[line], col = position - start, done = placed(row, position);
    const open = keywords.map((_, k) => k).filter((k) => !done.has(k));
    const written = row.slice(start, position);
    for (const k of open) {  // a keyword already begun in this line: continue it
      const word = keywords[k];
      for (let j = Math.min(word.length - 1, col); j > 0; j--) {
        if (same(written.slice(col - j), word.slice(0, j)) && col - j + word.length <= length - 1) return word[j];
      }
    }
    if (col === 0 && open.length && open.length >= spans.length - line) return keywords[open[0]][0];  // no line to spare
    return null;
  }

  return (position, history) => {
    if (!keywords.length) return null;
    const token = wanted(history, position);
    if (token === null) return null;
    const mask = new Uint8Array(size);
    mask[token] = 1;
    return mask;
  };
}
