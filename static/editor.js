// @ts-check
/**
 * An answer's markdown source in a textarea, edited while the model keeps writing it.
 *
 * The server holds the text (server/turns/merge.py). What the user types is sent as range
 * replacements against the version this page has seen, one batch in flight at a time (the
 * Jupiter protocol: the next waits for the server's acknowledgement, its own `edit` frames).
 * The model's new text goes at the end of the textarea with `setRangeText(…, "preserve")`,
 * which leaves the caret, the selection and the user's own undo history alone; the merge rule
 * puts the model's text after the user's wherever they meet, so the end is its place here too.
 *
 * Once no turn streams the answer, the edits go to its stored message instead, each batch one
 * write: at most one a second while the user types, at once on Done, on leaving the textarea
 * and when the page is hidden.
 */

/** The least time between two batches of edits of an answer no turn streams (ms). */
const STORED_EVERY_MS = 1000;

import { growth, opOf, replacementsOf, transform } from "./operation.js";

/** @typedef {import("./socket.js").Frame} Frame */
/** @typedef {[number, number, string]} Replacement */
/** One step the user can undo: at `at`, `removed` became `inserted`.
 * @typedef {{at: number, removed: string, inserted: string, when: number}} Step */

/**
 * Where position `at` of a text goes once `edit` is made on it (inside a replaced range:
 * after the new text; where the edit starts: before it, or, `after`, past its new text).
 * @param {number} at @param {Replacement} edit @param {boolean} [after]
 */
function moved(at, [start, end, text], after = false) {
  if (at < start || (at === start && !after)) return at;
  if (at >= end && !(at === start && after)) return at + text.length - (end - start);
  return start + text.length;
}

/**
 * The one replacement that makes `before` into `after` (their common start and end kept). A
 * change is ambiguous where it repeats its neighbour (a space typed next to a space): `caret`,
 * where the caret is in `after`, places it so that it ends there, as typing does.
 * @param {string} before @param {string} after @param {number} [caret]
 * @returns {Replacement | null}
 */
export function difference(before, after, caret = after.length) {
  if (before === after) return null;
  const shortest = Math.min(before.length, after.length);
  let end = 0;
  const most = Math.min(shortest, after.length - caret);
  while (end < most && before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) {
    end += 1;
  }
  let start = 0;
  while (start < shortest - end && before.charCodeAt(start) === after.charCodeAt(start)) start += 1;
  return [start, before.length - end, after.slice(start, after.length - end)];
}

export class Editor {
  /**
   * @param {HTMLElement} content the rendered answer, hidden while the editor shows
   * @param {{send: (frame: object) => boolean | void, client: string, newRef: () => string,
   *   label: string, target: () => {turn: string} | {message: string} | null, version: () => number,
   *   text: () => string, closed: () => void}} env
   *   target: where the edits go (the streaming turn, else the stored message; null: nowhere yet)
   */
  constructor(content, env) {
    this.content = content;
    this.env = env;
    const doc = content.ownerDocument;
    this.area = doc.createElement("textarea");
    this.area.className = "editor";
    this.area.setAttribute("aria-label", env.label);
    this.area.spellcheck = true;
    /** the text as this page has it: the server's, with its own edits not yet acknowledged */
    this.shadow = env.text();
    this.area.value = this.shadow;
    /** @type {Replacement[]} made since the last batch went */
    this.pending = [];
    /** acknowledgements the batch in flight still waits for */
    this.inflight = 0;
    /** @type {Set<string>} refs of the batches sent (an error names one) */
    this.refs = new Set();
    /** @type {Replacement[][]} the batch in flight, an entry per edit sent (sent again if its turn ended first) */
    this.sent = [];
    /** when the last batch went (performance.now()) */
    this.sentAt = -Infinity;
    /** the timeout holding back the next batch to a stored message (0: none) */
    this.timer = 0;
    this.onHidden = () => {
      if (content.ownerDocument.visibilityState === "hidden") this.flush(true);
    };
    content.ownerDocument.addEventListener("visibilitychange", this.onHidden);
    /** @type {HTMLElement | null} */
    this.noteEl = null;
    /** a height update waits for the next frame */
    this.growing = false;
    /** @type {Step[]} the user's own changes, newest last, for undo (and redo) */
    this.undos = [];
    /** @type {Step[]} */
    this.redos = [];
    this.area.addEventListener("input", () => this.typed());
    // Setting a textarea's text from script empties the browser's undo history, and the
    // model's text goes in that way: undo is the editor's own, and takes back only what the
    // user did (the model's words stay).
    this.area.addEventListener("beforeinput", (event) => {
      if (event.inputType === "historyUndo" || event.inputType === "historyRedo") {
        event.preventDefault();
        this.history(event.inputType === "historyUndo");
      }
    });
    this.area.addEventListener("blur", () => this.flush(true));
    this.area.addEventListener("keydown", (event) => {
      const key = event.key.toLowerCase();
      if ((event.ctrlKey || event.metaKey) && (key === "z" || key === "y")) {
        event.preventDefault();
        this.history(key === "z" && !event.shiftKey);
        return;
      }
      if (event.key === "Escape" || (event.key === "Enter" && (event.ctrlKey || event.metaKey))) {
        event.preventDefault();
        event.stopPropagation();
        this.env.closed();
      }
    });
    content.hidden = true;
    content.after(this.area);
    this.grow();
  }

  /** The answer's turn ended: what is typed from now on goes to the stored message. */
  ended() {
    this.flush();
  }

  /** An error frame: true if it refused one of this editor's batches (the text stays here).
   * @param {Frame} frame */
  refused(frame) {
    if (!frame.ref || !this.refs.delete(frame.ref)) return false;
    this.inflight = 0;
    if (frame.code === "not_streaming" || frame.code === "streaming" || frame.code === "rate_limited") {
      // The turn ended before the batch reached it (it goes to the stored message), a Continue
      // began (to its turn), or the server wants them slower: sent again.
      this.pending = [...this.sent.flat(), ...this.pending];
      this.sent = [];
      if (frame.code === "rate_limited") this.sentAt = performance.now();
      this.flush();
      return true;
    }
    this.note(`An edit could not be saved: ${frame.message ?? frame.code}`);
    return true;
  }

  /** Whether edits are still on their way to the server. */
  get busy() {
    return this.inflight > 0 || this.pending.length > 0;
  }

  /** @param {string} text */
  note(text) {
    if (!this.noteEl) {
      this.noteEl = this.content.ownerDocument.createElement("p");
      this.noteEl.className = "editor-note";
      this.noteEl.setAttribute("role", "status");
      this.area.after(this.noteEl);
    }
    this.noteEl.textContent = text;
  }

  focus() {
    this.area.focus();
  }

  /** Back to the rendered view (what is typed goes first). */
  close() {
    this.flush(true);
    this.content.ownerDocument.removeEventListener("visibilitychange", this.onHidden);
    this.area.remove();
    this.noteEl?.remove();
    this.content.hidden = false;
  }

  /** The height of its text: it grows instead of scrolling inside the page's scroller. Measuring
   * forces a layout, so it is done once per frame, however many changes came in it. */
  grow() {
    if (this.growing) return;
    this.growing = true;
    requestAnimationFrame(() => {
      this.growing = false;
      this.area.style.height = "auto";
      this.area.style.height = `${this.area.scrollHeight + 2}px`;
    });
  }

  typed() {
    const before = this.shadow;
    const change = difference(before, this.area.value, this.area.selectionEnd);
    if (!change) return;
    const [start, end, text] = change;
    const removed = before.slice(start, end);
    const last = this.undos[this.undos.length - 1];
    const now = Date.now();
    // Typing on from where the last change ended, within a second, is one step to undo.
    if (last && !removed && last.at + last.inserted.length === start && now - last.when < 1000) {
      last.inserted += text;
      last.when = now;
    } else {
      this.undos.push({ at: start, removed, inserted: text, when: now });
    }
    this.redos = [];
    this.change(change);
  }

  /** Take back the user's last step (or make it again). @param {boolean} undo */
  history(undo) {
    const step = (undo ? this.undos : this.redos).pop();
    if (!step) return;
    (undo ? this.redos : this.undos).push(step);
    const [gone, back] = undo ? [step.inserted, step.removed] : [step.removed, step.inserted];
    /** @type {Replacement} */
    const change = [step.at, step.at + gone.length, back];
    this.area.setRangeText(back, change[0], change[1], "end");
    this.change(change);
  }

  /** A change of the user's, made in the textarea: it goes to the server. @param {Replacement} change */
  change(change) {
    this.shadow = this.area.value;
    this.pending.push(change);
    this.grow();
    this.flush();
  }

  /**
   * Send what is pending, unless a batch is in flight (it goes when that one is acknowledged);
   * to a stored message, at most one batch a second unless `now`.
   * @param {boolean} [now]
   */
  flush(now = false) {
    const target = this.env.target();
    if (this.inflight || !this.pending.length || !target) return;
    if ("message" in target) {
      const wait = this.sentAt + STORED_EVERY_MS - performance.now();
      if (!now && wait > 0) {
        if (!this.timer) this.timer = setTimeout(() => ((this.timer = 0), this.flush(true)), wait);
        return;
      }
    }
    clearTimeout(this.timer);
    this.timer = 0;
    const edits = this.pending;
    this.pending = [];
    this.sent = edits.map((edit) => [edit]);
    this.sentAt = performance.now();
    // A turn acknowledges each edit with a frame of its own, a stored message the batch with one.
    this.inflight = "turn" in target ? edits.length : 1;
    const ref = this.env.newRef();
    this.refs.add(ref);
    this.env.send({ type: "edit", ...target, base: this.env.version(), edits, client: this.env.client, ref });
  }

  /**
   * Another page's replacement, merged by the server before this page's own that it has not
   * acknowledged yet (the batch in flight, then what is pending): made on the text without
   * them, it is transformed over them, and they over it, by the server's own rule (where both
   * insert at one point, the edit taken first comes first), so the texts end the same.
   * @param {Replacement} edit
   */
  merge(edit) {
    // Ours, in the order made: the batch in flight (each of its edits acknowledged on its own
    // by a turn) then what is pending; each was made on the text the one before it left.
    const groups = this.inflight ? this.sent : [];
    const mine = [...groups.flatMap((group, index) => group.map((own) => ({ own, index }))),
      ...this.pending.map((own) => ({ own, index: -1 }))];
    let length = this.area.value.length;
    const ops = new Array(mine.length);
    for (let i = mine.length - 1; i >= 0; i--) {
      const [start, end, text] = mine[i].own;
      length -= text.length - (end - start);
      ops[i] = opOf(mine[i].own, length);
    }
    // ``length`` is now the server's text before all of ours: the other's edit was made on it.
    let other = opOf(edit, length);
    /** @type {Replacement[][]} */
    const sent = groups.map(() => []);
    /** @type {Replacement[]} */
    const pending = [];
    ops.forEach((op, i) => {
      const [after, ours] = transform(other, op);
      other = after;
      const parts = replacementsOf(ours);
      if (mine[i].index >= 0) sent[mine[i].index].push(...parts);
      else pending.push(...parts);
    });
    if (this.inflight) this.sent = sent;
    this.pending = pending;
    for (const replacement of replacementsOf(other)) {
      for (const step of [...this.undos, ...this.redos]) step.at = moved(step.at, replacement);
      this.area.setRangeText(replacement[2], replacement[0], replacement[1], "preserve");
    }
  }

  /** A frame of the answer, as the message took it. @param {Frame} frame */
  take(frame) {
    if (frame.type === "delta" && frame.text) {
      const end = this.area.value.length;
      this.area.setRangeText(frame.text, end, end, "preserve");
      this.shadow = this.area.value;
      this.grow();
    } else if (frame.type === "edit") {
      if (frame.origin === this.env.client) {
        this.inflight = Math.max(0, this.inflight - 1);
        // A turn acknowledges the batch an edit at a time, a stored message all at once.
        this.sent = frame.turn ? this.sent.slice(1) : [];
        if (frame.ref) this.refs.delete(frame.ref);
        if (!this.inflight) this.flush();
        return;
      }
      // Another page's edit, merged by the server before this page's edits not yet
      // acknowledged (the batch in flight, then what is pending): it is made on the text
      // without them, so it is moved over them to be made here, and they are rebased on it,
      // as the server transforms them (server/turns/merge.py).
      for (const edit of /** @type {Replacement[]} */ (frame.edits ?? [])) this.merge(edit);
      this.shadow = this.area.value;
      this.grow();
    }
  }
}
