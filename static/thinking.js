// @ts-check
// The model's reasoning, apart from its answer: a "Thinking" disclosure above it, open while the
// model thinks, collapsed once the answer (or a tool call) begins, then labelled with how long
// the thinking took. DOM contract: `[data-part="reasoning"]` (a <details>), its label
// `[data-part="reasoning-label"]` and text `[data-part="reasoning-text"]`. Text only, never HTML.

/** @param {number} ms */
export function thoughtFor(ms) {
  const seconds = ms / 1000;
  return `Thought for ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
}

export class Thinking {
  /** @param {HTMLDetailsElement} el */
  constructor(el) {
    this.el = el;
    this.label = /** @type {HTMLElement} */ (el.querySelector('[data-part="reasoning-label"]'));
    this.body = /** @type {HTMLElement} */ (el.querySelector('[data-part="reasoning-text"]'));
    this.text = "";
  }

  clear() {
    this.text = "";
    this.body.textContent = "";
    this.el.hidden = true;
    this.el.open = false;
    delete this.el.dataset.state;
  }

  /** More of the thinking, as it streams. @param {string} text */
  add(text) {
    if (!this.text) {
      this.el.hidden = false;
      this.el.open = true;
      this.el.dataset.state = "thinking";
      this.label.textContent = "Thinking…";
    }
    this.text += text;
    this.body.append(text);
  }

  /** The thinking ended after `ms`: collapsed, labelled. @param {number} ms */
  ended(ms) {
    if (!this.text) return;
    this.el.open = false;
    this.el.dataset.state = "done";
    this.label.textContent = thoughtFor(ms);
  }

  /** A stored answer's thinking. @param {{text?: string, ms?: number} | null | undefined} stored */
  restore(stored) {
    this.clear();
    if (!stored?.text) return;
    this.add(stored.text);
    if (typeof stored.ms === "number") this.ended(stored.ms);
    else {
      this.el.open = false;
      this.el.dataset.state = "done";
      this.label.textContent = "Thinking";
    }
  }
}
