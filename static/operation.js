// @ts-check
// Text operations, as server/turns/merge.py has them (the same rules, so that a page and the
// server transform edits alike): a list of components over a text, each a number of characters
// kept (> 0), deleted (< 0), or a string inserted.

/** @typedef {Array<number | string>} Op */
/** @typedef {[number, number, string]} Replacement */

/** Empty components dropped, neighbours of one kind joined, an insert before a delete where
 * both meet (as merge.py's _normal). @param {Op} parts @returns {Op} */
function normal(parts) {
  /** @type {Op} */
  const out = [];
  for (const part of parts) {
    if (part === 0 || part === "") continue;
    const last = out[out.length - 1];
    if (typeof part === "string") {
      if (typeof last === "string") out[out.length - 1] = last + part;
      else if (typeof last === "number" && last < 0) {
        const before = out[out.length - 2];
        if (typeof before === "string") out[out.length - 2] = before + part;
        else out.splice(out.length - 1, 0, part);
      } else out.push(part);
    } else if (typeof last === "number" && last > 0 === part > 0) out[out.length - 1] = last + part;
    else out.push(part);
  }
  return out;
}

/** `replacement` as an operation on a text of `length` characters.
 * @param {Replacement} replacement @param {number} length @returns {Op} */
export function opOf([start, end, text], length) {
  return normal([start, text, start - end, length - end]);
}

/** How many characters longer `op` makes its text. @param {Op} op */
export function growth(op) {
  let sum = 0;
  for (const part of op) sum += typeof part === "string" ? part.length : Math.min(part, 0);
  return sum;
}

/** @param {number} part @param {number} step @returns {number | null} */
function rest(part, step) {
  const left = Math.abs(part) - step;
  return left ? Math.sign(part) * left : null;
}

/**
 * `a` and `b` made on the same text → `[a2, b2]`: `a2` does `a`'s work after `b`, `b2` does
 * `b`'s after `a`; where both insert at one point, `a`'s text comes first.
 * @param {Op} a @param {Op} b @returns {[Op, Op]}
 */
export function transform(a, b) {
  /** @type {Op} */ const a2 = [];
  /** @type {Op} */ const b2 = [];
  let i = 0;
  let j = 0;
  /** @type {number | string | null} */ let x = a.length ? a[0] : null;
  /** @type {number | string | null} */ let y = b.length ? b[0] : null;
  while (x !== null || y !== null) {
    if (typeof x === "string") {
      a2.push(x);
      b2.push(x.length);
      x = ++i < a.length ? a[i] : null;
      continue;
    }
    if (typeof y === "string") {
      a2.push(y.length);
      b2.push(y);
      y = ++j < b.length ? b[j] : null;
      continue;
    }
    if (x === null || y === null) throw new Error("operations on texts of different lengths");
    const step = Math.min(Math.abs(x), Math.abs(y));
    if (x > 0 && y > 0) {
      a2.push(step);
      b2.push(step);
    } else if (x < 0 && y > 0) a2.push(-step);
    else if (x > 0 && y < 0) b2.push(-step);
    x = rest(x, step);
    y = rest(y, step);
    if (x === null) x = ++i < a.length ? a[i] : null;
    if (y === null) y = ++j < b.length ? b[j] : null;
  }
  return [normal(a2), normal(b2)];
}

/** `op` as range replacements, the last first, each in the coordinates of the text before it.
 * @param {Op} op @returns {Replacement[]} */
export function replacementsOf(op) {
  /** @type {Replacement[]} */
  const out = [];
  let at = 0;
  /** @type {number | null} */
  let start = null;
  let text = "";
  for (const part of op) {
    if (typeof part === "number" && part > 0) {
      if (start !== null) {
        out.push([start, at, text]);
        start = null;
        text = "";
      }
      at += part;
      continue;
    }
    if (start === null) start = at;
    if (typeof part === "string") text += part;
    else at -= part;
  }
  if (start !== null) out.push([start, at, text]);
  return out.reverse();
}
