// @ts-check
// One assistant answer: its article, its patched content, its state, metrics and error.

import { Patcher, chunked } from "./patch.js";
import { ToolCalls } from "./steps.js";
import { Thinking } from "./thinking.js";
import { Versions } from "./versions.js";

/** @typedef {import("./socket.js").Frame} Frame */

const STATE_WORDS = { done: "", stopped: "Stopped", error: "Error", incomplete: "Incomplete" };

const SCROLLERS = "pre, .table-scroll";

/** How often, at most, a streaming answer's figures are written (ms). */
const METRICS_MS = 250;

/**
 * A code block or table wider than the answer scrolls sideways in its own box: the keyboard
 * must reach it to scroll it (WCAG 2.1.1; axe's scrollable-region-focusable), so every such
 * box is a tab stop.
 * @param {Node[]} nodes
 */
function scrollersFocusable(nodes) {
  for (const node of nodes) {
    if (!(node instanceof Element)) continue;
    const boxes = node.matches(SCROLLERS) ? [node] : Array.from(node.querySelectorAll(SCROLLERS));
    for (const box of boxes) box.setAttribute("tabindex", "0");
  }
}

/**
 * `task` in a task of its own after the next frame (the newest messages of a conversation being
 * opened painted first); a hidden tab has no frames, so there only the task.
 * @param {Document} doc @param {() => void} task
 */
export function afterNextPaint(doc, task) {
  const soon = () => setTimeout(task, 0);
  if (doc.visibilityState === "hidden") soon();
  else requestAnimationFrame(soon);
}

export class AssistantMessage {
  /**
   * @param {HTMLElement} article from the assistant template
   * @param {number} number which answer of the conversation this is (names its buttons)
   * @param {{onFrozen: (nodes: Node[]) => void, onBroken: (error: unknown) => void,
   *   onVersion: (id: string) => void}} hooks onVersion: show the branch through that version
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
    this.patcher = new Patcher(this.content, { ...hooks, onNodes: (nodes, block) => this.prepare(nodes, block) });
    const copy = /** @type {HTMLElement} */ (article.querySelector('[data-action="copy-message"]'));
    copy.setAttribute("aria-label", `Copy answer ${number}`);
    this.retryButton.setAttribute("aria-label", `Retry answer ${number}`);
    this.regenerateButton = /** @type {HTMLButtonElement} */ (article.querySelector('[data-action="regenerate"]'));
    this.regenerateButton.setAttribute("aria-label", `Regenerate answer ${number}`);
    this.versions = new Versions(
      /** @type {HTMLElement} */ (article.querySelector('[data-part="versions"]')),
      `answer ${number}`,
      hooks.onVersion,
    );
    this.editButton = /** @type {HTMLButtonElement} */ (article.querySelector('[data-action="edit"]'));
    this.editButton.setAttribute("aria-label", `Edit answer ${number}`);
    this.continueButton = /** @type {HTMLButtonElement} */ (article.querySelector('[data-action="continue"]'));
    this.continueButton.setAttribute("aria-label", `Continue answer ${number}`);
    /** @type {string | null} why the model stopped ("length": the token limit) */
    this.finishReason = null;
    /** whether its text is no longer the model's own */
    this.edited = false;
    this.editedEl = /** @type {HTMLElement} */ (article.querySelector('[data-part="edited"]'));
    this.originalEl = /** @type {HTMLElement} */ (article.querySelector('[data-part="original"]'));
    this.originalButton = /** @type {HTMLButtonElement} */ (article.querySelector('[data-action="original"]'));
    this.originalButton.setAttribute("aria-label", `Show the original of answer ${number}`);
    this.originalButton.addEventListener("click", () => this.toggleOriginal());
    /** the model's own text, as it wrote it (the stored original, or what the frames brought) */
    this.modelText = "";
    /** @type {string | null} the stored original, when the stored text was edited */
    this.original = null;
    /** @type {import("./editor.js").Editor | null} the open editor of its markdown */
    this.editor = null;
    /** @type {import("./editor.js").Editor | null} a closed editor whose last edits are still on their way */
    this.draining = null;
    /** how it had ended before a Continue (shown again if the Continue is refused) */
    this.before = { state: "done", finishReason: /** @type {string | null} */ (null) };
    /** @type {string | null} */
    this.turn = null;
    /** @type {string | null} the stored message's id (known once the turn's `start` names it) */
    this.id = null;
    /** whether this page sent the turn's start: only then are TTFT and render lag its own */
    this.observed = false;
    /** the shown content is the stored one, to be replaced by the turn's replay */
    this.stale = false;
    /** @type {{ttft_ms?: number, tokens_per_second?: number} | null} the server's figures */
    this.stats = null;
    this.ref = "";
    this.lastSeq = -1;
    this.text = "";
    this.state = "streaming";
    this.steps = new ToolCalls(this.toolsEl);
    this.thinking = new Thinking(/** @type {HTMLDetailsElement} */ (article.querySelector('[data-part="reasoning"]')));
    /** @type {((frame: Frame) => void) | undefined} called once a frame is on screen */
    this.onShown = undefined;
    /** @type {(() => void) | undefined} what is shown is not what the server holds: fetch it again */
    this.onStale = undefined;
    this.generation = 0;
    this.sentAt = 0;
    /** @type {number | null} */
    this.firstAt = null;
    this.lastAt = 0;
    this.deltas = 0;
    /** the text's version, as the server counts (one per text frame, per edit) */
    this.version = 0;
    this.chars = 0;
    this.maxLag = 0;
    /** when the footer's figures were last written */
    this.metricsAt = 0;
    /** whether its stored content is still to be fetched (an older answer of the opened page) */
    this.htmlLater = false;
    /** @type {number | undefined} completion tokens, when the upstream said */
    this.tokens = undefined;
    /** @type {Array<[number, number]>} [characters received so far, when] not yet shown */
    this.waiting = [];
    this.reset();
  }

  /**
   * Go on from the text as it stands (Continue): streaming again, the content shown until the
   * turn's `start` brings it rendered as the stream goes on from it.
   */
  resume() {
    this.newTurn({ keep: true });
    this.stale = true;
    this.deltas = 0;
    this.waiting = [];
    this.setState("streaming");
    this.renderMetrics();
  }

  /** What a new turn of this answer starts without: its predecessor's turn, figures and error.
   * @param {{keep?: boolean}} [how] keep: the content stays shown (see Patcher.reset) */
  newTurn({ keep = false } = {}) {
    this.generation = (this.generation ?? 0) + 1;
    this.htmlLater = false;
    this.patcher.reset({ keep });
    this.codeNumbers.clear();
    this.turn = null;
    this.lastSeq = -1;
    this.errorEl.hidden = true;
    this.errorEl.textContent = "";
    this.retryButton.hidden = true;
    this.sentAt = performance.now();
    this.firstAt = null;
    this.lastAt = 0;
    this.maxLag = 0;
    this.tokens = undefined;
    this.stats = null;
  }

  /** Start over for a (re)sent turn. */
  reset() {
    this.newTurn();
    this.forgetText();
    this.steps.clear();
    this.thinking.clear();
    this.stale = false;
    this.setState("streaming");
    this.renderMetrics();
  }

  /**
   * Show a stored message as it is (its server-rendered HTML, state, error and figures): a
   * transcript opened from storage, or a turn the server no longer holds in memory.
   * @param {import("./conversations.js").StoredMessage} stored
   * @param {{later?: boolean}} [how] later: its content goes in with a task of its own (an older
   *   message of a conversation being opened, which need not hold up the newest)
   */
  showStored(stored, how = {}) {
    this.generation += 1;
    this.patcher.reset();
    this.codeNumbers.clear();
    this.id = stored.id;
    this.observed = false;
    this.stale = false;
    this.lastSeq = -1;
    this.text = stored.text ?? "";
    this.chars = this.text.length;
    this.original = stored.original ?? null;
    this.modelText = this.original ?? this.text;
    this.markEdited(Boolean(stored.edited));
    this.versions.show(stored.versions ?? [], stored.id);
    this.deltas = 0;
    this.version = typeof stored.version === "number" ? stored.version : 0;
    this.waiting = [];
    this.firstAt = null;
    this.steps.restore(stored.tool_calls);
    this.thinking.restore(stored.reasoning);
    const generation = this.generation;
    // An older answer of a conversation the page opened with: its HTML is fetched (the caller's).
    this.htmlLater = stored.html === undefined && Boolean(stored.html_later);
    const fill = () => this.fill(stored.html ?? "", { generation });
    if (this.htmlLater) this.showBusy();
    else if (!how.later || stored.state === "streaming") fill();
    else afterNextPaint(this.article.ownerDocument, fill);
    if (stored.model) this.modelEl.textContent = stored.model;
    this.stats = { ttft_ms: stored.ttft_ms, tokens_per_second: stored.tokens_per_second };
    this.tokens = stored.usage?.completion_tokens;
    this.errorEl.hidden = true;
    this.errorEl.textContent = "";
    if (stored.state === "streaming") {
      // Still being written: the caller follows its turn, whose replay replaces this content.
      this.turn = stored.turn ?? null;
      this.stale = true;
      this.stats = null;
      this.setState("streaming");
      this.retryButton.hidden = true;
      this.renderMetrics();
      return;
    }
    this.turn = null;
    this.end({ type: "end", state: stored.state, error: stored.error, finish_reason: stored.finish_reason });
    this.renderMetrics();
  }

  /**
   * A stored answer's content: its server-rendered HTML, in chunks (and its text, when it came
   * later than the rest of it).
   * @param {string} html
   * @param {{generation?: number, text?: string, original?: string}} [how] generation: the showing it is for (a
   *   later one wins)
   */
  fill(html, { generation = this.generation, text, original } = {}) {
    if (generation !== this.generation) return;
    if (text !== undefined) {
      this.text = text;
      this.chars = text.length;
    }
    if (original !== undefined) this.original = original;
    this.htmlLater = false;
    this.showBusy();
    this.errorEl.hidden = true;
    // Trusted: our own renderer's output (markdown-it with raw HTML disabled), as in the ops.
    const template = this.article.ownerDocument.createElement("template");
    template.innerHTML = html;
    const nodes = Array.from(template.content.children);
    nodes.forEach((node, index) => this.prepare([node], Number(node.getAttribute("data-block") ?? index)));
    this.content.replaceChildren();
    chunked(this.content, Array.from(template.content.childNodes));
  }

  /** The text starts again from nothing (a retry, a replay): its figures and edited mark too. */
  forgetText() {
    this.text = "";
    this.modelText = "";
    this.original = null;
    this.markEdited(false);
    this.chars = 0;
    this.deltas = 0;
    this.version = 0;
    this.waiting = [];
  }

  /** Say whether the text is the model's as it wrote it; the original can be shown.
   * @param {boolean} edited */
  markEdited(edited) {
    this.edited = edited;
    this.editedEl.hidden = !edited;
    this.originalButton.hidden = !edited;
    if (!edited) {
      this.originalEl.hidden = true;
      this.originalButton.textContent = "Show original";
    }
  }

  toggleOriginal() {
    const show = this.originalEl.hidden;
    // As text: the model's output is untrusted, and this is its source.
    if (show) this.originalEl.textContent = this.original ?? this.modelText;
    this.originalEl.hidden = !show;
    this.originalButton.textContent = show ? "Hide original" : "Show original";
    this.originalButton.setAttribute("aria-label", `${show ? "Hide" : "Show"} the original of answer ${this.number}`);
  }

  /** Busy for assistive technology while it streams or its content is on its way. */
  showBusy() {
    this.article.setAttribute("aria-busy", this.streaming || this.htmlLater ? "true" : "false");
  }

  /** Its content could not be fetched: say so where it would be. */
  fillFailed() {
    if (!this.htmlLater) return;
    this.htmlLater = false;
    this.showBusy();
    this.errorEl.textContent = "This answer could not be loaded. Reload the page to see it.";
    this.errorEl.hidden = false;
  }

  /**
   * A stored message the server says is still streaming, though not in this server's memory
   * (another server has its turn): shown as it stands, not followed.
   */
  showDetached() {
    this.turn = null;
    this.stale = false;
    this.end({
      type: "end",
      state: "incomplete",
      error: { message: "This answer is still being written elsewhere; reload the page to see the rest." },
    });
    this.renderMetrics();
  }

  /** Nodes that just went in: their Copy buttons named, their scrolling boxes focusable.
   * @param {Node[]} nodes @param {number | null} block */
  prepare(nodes, block) {
    this.labelCopies(nodes, block);
    scrollersFocusable(nodes);
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
    this.htmlLater = false;
    this.patcher.reset();
    this.codeNumbers.clear();
    this.lastSeq = -1;
    this.forgetText();
    this.steps.clear();
    this.thinking.clear();
  }

  /** @param {string} state */
  setState(state) {
    this.state = state;
    this.article.dataset.state = state;
    this.showBusy();
    this.typingEl.hidden = state !== "streaming";
    // Edits are merged by the turn while it streams, by the stored message after (docs/protocol.md, `edit`).
    this.editButton.hidden = state !== "streaming" && !this.editor && !this.id;
    if (state !== "streaming") (this.editor ?? this.draining)?.ended();
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
    if (this.stale && seq === 0) {
      // The replay of a stored answer starts over: its text from scratch now; its DOM when the
      // replay's first operations go in, in the same frame, so nothing blinks empty.
      this.forgetText();
    }
    if (this.stale && (frame.ops?.length || frame.type === "end")) {
      this.stale = false;
      this.patcher.enqueue([], () => this.content.replaceChildren());
    }
    if (frame.type === "start") {
      if (frame.model) this.modelEl.textContent = frame.model;
      if (!frame.resumed) return true;
      // A Continue: the text it goes on from; its operations (below) show it.
      this.text = frame.resumed.text;
      this.chars = this.text.length;
      this.version = frame.resumed.v;
      this.original = frame.resumed.original ?? null;
      this.modelText = this.original ?? this.text;
      this.markEdited(this.original !== null);
      this.waiting = [];
    }
    if (frame.type === "delta") {
      // Time to first token: the first thing the model sent, be it text, a call or a thought.
      if (this.firstAt === null && (frame.text || frame.tools || frame.reasoning)) this.firstAt = receivedAt;
      if (frame.text) {
        this.text += frame.text;
        this.modelText += frame.text;
        this.chars += frame.text.length;
        this.waiting.push([this.chars, receivedAt]);
      }
      if (typeof frame.v === "number") this.version = frame.v;
      this.deltas += frame.n ?? 0;
      this.lastAt = receivedAt;
      if (frame.reasoning) this.thinking.add(frame.reasoning);
      if (typeof frame.thought_ms === "number") this.thinking.ended(frame.thought_ms);
      if (frame.tools) this.steps.fragments(frame.tools);
    }
    if (frame.type === "step") this.steps.step(/** @type {import("./steps.js").StepUpdate} */ (/** @type {unknown} */ (frame)));
    if (frame.type === "edit") {
      // An edit of this answer (from this page or another), merged by the server: its ranges
      // apply to the text as it stood, in order (they come highest first).
      for (const [start, end, text] of /** @type {Array<[number, number, string]>} */ (frame.edits ?? [])) {
        this.text = this.text.slice(0, start) + text + this.text.slice(end);
      }
      this.chars = this.text.length;
      this.version = frame.v ?? this.version;
      this.markEdited(true);
      this.waiting = this.waiting.filter(([at]) => at <= this.chars);
    }
    if (frame.type === "delta" || frame.type === "edit") (this.editor ?? this.draining)?.take(frame);
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
      // While it streams, the figures change a few times a second at most: each change lays out
      // and paints the footer again, which on a slow CPU costs as much as the new text itself.
      if (!this.streaming || now - this.metricsAt >= METRICS_MS) this.renderMetrics();
      this.onShown?.(frame);
    });
    return true;
  }

  /** Whether Continue makes sense: it stopped short of its end, or its text is no longer the model's. */
  get continuable() {
    return !this.streaming && this.text.length > 0 && (this.state !== "done" || this.finishReason === "length" || this.edited);
  }

  /**
   * An edit of this answer when no turn streams it, merged and stored by the server (from this
   * page or another): its ranges apply to the text in order; its HTML is the answer now.
   * @param {Frame} frame
   */
  revised(frame) {
    if (this.original === null && !this.edited) this.original = this.modelText;
    for (const [start, end, text] of /** @type {Array<[number, number, string]>} */ (frame.edits ?? [])) {
      this.text = this.text.slice(0, start) + text + this.text.slice(end);
    }
    this.chars = this.text.length;
    this.version = frame.v ?? this.version;
    this.markEdited(true);
    (this.editor ?? this.draining)?.take(frame);
    if (!this.replaceElements(frame)) this.onStale?.();
  }

  /**
   * The answer's top-level elements, in order (inside their chunks).
   * @returns {Element[]}
   */
  elements() {
    return Array.from(this.content.children).flatMap((child) =>
      child.classList.contains("chunk") ? Array.from(child.children) : [child],
    );
  }

  /**
   * Put a revision's new elements in place of the ones that changed: of the `was` elements,
   * the first and last `keep` stay as they are (nodes and all). False if the page does not hold
   * the elements the server counted (the caller fetches the answer again).
   * @param {Frame} frame
   */
  replaceElements(frame) {
    const elements = this.elements();
    const [head, tail] = /** @type {[number, number]} */ (frame.keep ?? [0, 0]);
    if (elements.length !== frame.was || head + tail > elements.length) return false;
    const template = this.article.ownerDocument.createElement("template");
    // Trusted: our own renderer's output (markdown-it with raw HTML disabled), as in the ops.
    template.innerHTML = frame.html ?? "";
    const nodes = Array.from(template.content.children);
    nodes.forEach((node) => this.prepare([node], null));
    const after = elements[elements.length - tail] ?? null;
    const parent = after?.parentElement ?? elements[head - 1]?.parentElement ?? null;
    for (const gone of elements.slice(head, elements.length - tail)) {
      const chunk = gone.parentElement;
      gone.remove();
      if (chunk && chunk !== this.content && chunk !== parent && !chunk.children.length) chunk.remove();
    }
    if (after) after.before(...nodes);
    else if (parent) parent.append(...nodes);
    else chunked(this.content, nodes);
    return true;
  }

  /** @param {Frame} frame */
  end(frame) {
    this.finishReason = frame.finish_reason ?? null;
    this.setState(frame.state ?? "done");
    if (frame.usage?.completion_tokens) this.tokens = frame.usage.completion_tokens;
    if (frame.stats && !this.observed) {
      // A replayed turn: the server's own timing, not when its frames reached this page.
      const { ttft_ms: ttft, duration_ms: duration } = frame.stats;
      const tokens = this.tokens ?? frame.stats.deltas;
      const seconds = (duration - ttft) / 1000;
      this.stats = { ttft_ms: ttft, tokens_per_second: seconds > 0.05 && tokens > 1 ? tokens / seconds : undefined };
    }
    if (frame.error?.message && frame.state !== "done") {
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

  /** The footer's figures: this page's own measurements of a turn it started, else the server's. */
  renderMetrics() {
    this.metricsAt = performance.now();
    const parts = [];
    if (!this.observed && this.stats) {
      if (this.stats.ttft_ms != null) parts.push(`TTFT ${Math.round(this.stats.ttft_ms)} ms`);
      if (this.stats.tokens_per_second != null) parts.push(`${this.stats.tokens_per_second.toFixed(1)} tok/s`);
    } else if (!this.observed && this.streaming) {
      parts.push("streaming…");
    } else if (this.firstAt !== null) {
      parts.push(`TTFT ${Math.round(this.firstAt - this.sentAt)} ms`);
      const seconds = (this.lastAt - this.firstAt) / 1000;
      const tokens = this.tokens ?? this.deltas;
      if (seconds > 0.05 && tokens > 1) parts.push(`${(tokens / seconds).toFixed(1)} tok/s`);
      parts.push(`render lag ${Math.round(this.maxLag)} ms`);
    } else if (this.streaming) {
      parts.push("waiting for the first token…");
    }
    const word = this.streaming ? "" : STATE_WORDS[/** @type {keyof typeof STATE_WORDS} */ (this.state)] ?? "";
    if (word) parts.push(word);
    this.metricsEl.textContent = parts.join(" · ");
    this.metricsEl.title = `${this.chars} characters received and shown, ${this.deltas} deltas`;
  }
}
