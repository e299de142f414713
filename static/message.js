// @ts-check
// One assistant answer: its article, its patched content, its state, metrics and error.

import { Patcher } from "./patch.js";

/** @typedef {import("./socket.js").Frame} Frame */

const STATE_WORDS = { done: "", stopped: "Stopped", error: "Error", incomplete: "Incomplete" };

export class AssistantMessage {
  /**
   * @param {HTMLElement} article from the assistant template
   * @param {number} number which answer of the conversation this is (names its buttons)
   * @param {{onFrozen: (nodes: Node[]) => void, onBroken: (error: unknown) => void}} hooks
   */
  constructor(article, number, hooks) {
    this.article = article;
    this.number = number;
    /** @type {Map<string, number>} code blocks by (top-level block, index in it) -> their number */
    this.codeNumbers = new Map();
    this.content = /** @type {HTMLElement} */ (article.querySelector('[data-part="content"]'));
    this.metricsEl = /** @type {HTMLElement} */ (article.querySelector('[data-part="metrics"]'));
    this.errorEl = /** @type {HTMLElement} */ (article.querySelector('[data-part="error"]'));
    this.toolsEl = /** @type {HTMLElement} */ (article.querySelector('[data-part="tools"]'));
    this.modelEl = /** @type {HTMLElement} */ (article.querySelector('[data-part="model"]'));
    this.retryButton = /** @type {HTMLButtonElement} */ (article.querySelector('[data-action="retry"]'));
    this.typingEl = /** @type {HTMLElement} */ (article.querySelector(".typing"));
    this.patcher = new Patcher(this.content, { ...hooks, onNodes: (nodes, block) => this.labelCopies(nodes, block) });
    const copy = /** @type {HTMLElement} */ (article.querySelector('[data-action="copy-message"]'));
    copy.setAttribute("aria-label", `Copy answer ${number}`);
    this.retryButton.setAttribute("aria-label", `Retry answer ${number}`);
    /** @type {string | null} */
    this.turn = null;
    this.ref = "";
    this.lastSeq = -1;
    this.text = "";
    this.state = "streaming";
    /** @type {Map<number, {name?: string, id?: string, arguments: string, el?: HTMLElement}>} */
    this.tools = new Map();
    /** @type {((frame: Frame) => void) | undefined} called once a frame is on screen */
    this.onShown = undefined;
    this.generation = 0;
    this.sentAt = 0;
    /** @type {number | null} */
    this.firstAt = null;
    this.lastAt = 0;
    this.deltas = 0;
    this.chars = 0;
    this.maxLag = 0;
    /** @type {number | undefined} completion tokens, when the upstream said */
    this.tokens = undefined;
    /** @type {Array<[number, number]>} [characters received so far, when] not yet shown */
    this.waiting = [];
    this.reset();
  }

  /** Start over for a (re)sent turn. */
  reset() {
    this.generation = (this.generation ?? 0) + 1;
    this.patcher.reset();
    this.codeNumbers.clear();
    this.turn = null;
    this.lastSeq = -1;
    this.text = "";
    this.tools.clear();
    this.toolsEl.replaceChildren();
    this.errorEl.hidden = true;
    this.errorEl.textContent = "";
    this.retryButton.hidden = true;
    this.sentAt = performance.now();
    this.firstAt = null;
    this.lastAt = 0;
    this.deltas = 0;
    this.chars = 0;
    this.maxLag = 0;
    this.tokens = undefined;
    this.waiting = [];
    this.setState("streaming");
    this.renderMetrics();
  }

  /**
   * Give each code block's Copy button a name of its own ("Copy code block 2, python, answer
   * 3"), kept while the block streams and re-renders.
   * @param {Node[]} nodes @param {number | null} block
   */
  labelCopies(nodes, block) {
    for (const node of nodes) {
      if (!(node instanceof Element)) continue;
      const buttons = node.matches("[data-copy]") ? [node] : Array.from(node.querySelectorAll("[data-copy]"));
      buttons.forEach((button, index) => {
        const key = `${block}:${index}`;
        let n = this.codeNumbers.get(key);
        if (n === undefined) {
          n = this.codeNumbers.size + 1;
          this.codeNumbers.set(key, n);
        }
        const lang = button.closest(".codeblock")?.querySelector(".codeblock-lang")?.textContent?.trim();
        const kind = lang && lang !== "text" ? `, ${lang}` : "";
        button.setAttribute("aria-label", `Copy code block ${n}${kind}, answer ${this.number}`);
      });
    }
  }

  /** Forget what is shown, to replay the turn's log from its start. */
  replay() {
    this.generation += 1;
    this.patcher.reset();
    this.codeNumbers.clear();
    this.lastSeq = -1;
    this.text = "";
    this.chars = 0;
    this.deltas = 0;
    this.waiting = [];
    this.tools.clear();
    this.toolsEl.replaceChildren();
  }

  /** @param {string} state */
  setState(state) {
    this.state = state;
    this.article.dataset.state = state;
    this.article.setAttribute("aria-busy", state === "streaming" ? "true" : "false");
    this.typingEl.hidden = state !== "streaming";
  }

  get streaming() {
    return this.state === "streaming";
  }

  /**
   * A frame of this message's turn. Returns false for a duplicate (already seen after a resume).
   * @param {Frame} frame @param {number} receivedAt
   */
  apply(frame, receivedAt) {
    const seq = frame.seq ?? -1;
    if (seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    if (frame.type === "start") {
      if (frame.model) this.modelEl.textContent = frame.model;
      return true;
    }
    if (frame.type === "delta") {
      if (frame.text) {
        if (this.firstAt === null) this.firstAt = receivedAt;
        this.text += frame.text;
        this.chars += frame.text.length;
        this.waiting.push([this.chars, receivedAt]);
      }
      this.deltas += frame.n ?? 0;
      this.lastAt = receivedAt;
      if (frame.tools) this.applyTools(frame.tools);
    }
    const generation = this.generation;
    this.patcher.enqueue(frame.ops ?? [], () => {
      if (generation !== this.generation) return;
      // Render lag: how long received text waited before it was on screen. `shown` says how
      // much of the text the operations so far display.
      const shown = frame.shown ?? this.chars;
      const now = performance.now();
      while (this.waiting.length && this.waiting[0][0] <= shown) {
        const entry = /** @type {[number, number]} */ (this.waiting.shift());
        this.maxLag = Math.max(this.maxLag, now - entry[1]);
      }
      if (frame.type === "end") this.end(frame);
      this.renderMetrics(frame.type === "end" ? frame : null);
      this.onShown?.(frame);
    });
    return true;
  }

  /** @param {Array<{index: number, id?: string, name?: string, arguments: string}>} fragments */
  applyTools(fragments) {
    for (const fragment of fragments) {
      let call = this.tools.get(fragment.index);
      if (!call) {
        call = { arguments: "" };
        this.tools.set(fragment.index, call);
        const el = this.article.ownerDocument.createElement("details");
        el.className = "tool-call";
        el.open = true;
        el.innerHTML = '<summary><span class="tool-name"></span></summary><pre class="tool-args"></pre>';
        this.toolsEl.appendChild(el);
        call.el = el;
      }
      if (fragment.id) call.id = fragment.id;
      if (fragment.name) call.name = fragment.name;
      call.arguments += fragment.arguments ?? "";
      const el = /** @type {HTMLElement} */ (call.el);
      /** @type {HTMLElement} */ (el.querySelector(".tool-name")).textContent = `Tool call: ${call.name ?? "…"}`;
      /** @type {HTMLElement} */ (el.querySelector(".tool-args")).textContent = call.arguments;
    }
  }

  /** @param {Frame} frame */
  end(frame) {
    this.setState(frame.state ?? "done");
    if (frame.usage?.completion_tokens) this.tokens = frame.usage.completion_tokens;
    if (frame.state === "error" && frame.error) {
      const error = frame.error;
      const status = error.status ? `${error.status} — ` : "";
      const retry = error.retry_after != null ? ` Retry after ${error.retry_after} s.` : "";
      this.errorEl.textContent = `${status}${error.message}${retry}`;
      this.errorEl.hidden = false;
    } else if (frame.state === "incomplete") {
      this.errorEl.textContent = "The upstream ended the answer without finishing it.";
      this.errorEl.hidden = false;
    } else if (frame.finish_reason === "length") {
      this.errorEl.textContent = "The answer was cut off at the token limit.";
      this.errorEl.hidden = false;
    }
    this.retryButton.hidden = frame.state === "done" && frame.finish_reason !== "length";
  }

  /** @param {Frame | null} end */
  renderMetrics(end = null) {
    const parts = [];
    if (this.firstAt !== null) {
      parts.push(`TTFT ${Math.round(this.firstAt - this.sentAt)} ms`);
      const seconds = (this.lastAt - this.firstAt) / 1000;
      const tokens = this.tokens ?? this.deltas;
      if (seconds > 0.05 && tokens > 1) parts.push(`${(tokens / seconds).toFixed(1)} tok/s`);
      parts.push(`render lag ${Math.round(this.maxLag)} ms`);
    } else if (this.streaming) {
      parts.push("waiting for the first token…");
    }
    const word = end ? STATE_WORDS[/** @type {keyof typeof STATE_WORDS} */ (end.state)] : "";
    if (word) parts.push(word);
    this.metricsEl.textContent = parts.join(" · ");
    this.metricsEl.title = `${this.chars} characters received and shown, ${this.deltas} deltas`;
  }
}
