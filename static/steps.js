// @ts-check
// An answer's tool calls, as they stream, run and finish: one disclosure per call.
//
// DOM contract (tests and later surfaces rely on it): each call is
// `[data-part="tool-call"][data-tool=NAME][data-state=streaming|running|done|failed]`, a
// <details> holding `[data-part="tool-args"]` (the arguments, readable, growing as they stream),
// `[data-part="tool-result"]` and `[data-part="tool-duration"]`. Everything from the model or a
// tool goes in as text, never as HTML.

/**
 * @typedef {{call: number, round?: number, index?: number, id?: string, name?: string,
 *   arguments?: string, args?: unknown}} Fragment
 * @typedef {{call: number, state: string, result?: string, ms?: number}} StepUpdate
 * @typedef {{call?: number, index?: number, id?: string, name?: string, arguments?: string,
 *   state?: string, result?: string, ms?: number}} StoredCall
 * @typedef {{el: HTMLDetailsElement, name: string, raw: string, state: string}} Shown
 */

/** @param {unknown} value */
function readable(value) {
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2) ?? "";
}

/** The arguments as a reader wants them: one `key: value` line per argument. @param {unknown} args */
export function argumentLines(args) {
  if (args === null || typeof args !== "object" || Array.isArray(args)) return readable(args);
  return Object.entries(/** @type {Record<string, unknown>} */ (args))
    .map(([key, value]) => `${key}: ${readable(value)}`)
    .join("\n");
}

export class ToolCalls {
  /** @param {HTMLElement} container @param {(text: string) => void} [announce] */
  constructor(container, announce) {
    this.container = container;
    this.announce = announce;
    /** @type {Map<number, Shown>} */
    this.calls = new Map();
  }

  clear() {
    this.calls.clear();
    this.container.replaceChildren();
  }

  /** @param {number} number @param {string} [name] */
  shown(number, name) {
    let call = this.calls.get(number);
    if (!call) {
      const doc = this.container.ownerDocument;
      const el = doc.createElement("details");
      el.className = "tool-call";
      el.dataset.part = "tool-call";
      el.open = true;
      const summary = doc.createElement("summary");
      for (const part of ["tool-name", "tool-status", "tool-duration"]) {
        const span = doc.createElement("span");
        span.className = part;
        span.dataset.part = part;
        summary.append(span, " ");
      }
      const args = doc.createElement("pre");
      args.className = "tool-args";
      args.dataset.part = "tool-args";
      const result = doc.createElement("pre");
      result.className = "tool-result";
      result.dataset.part = "tool-result";
      result.hidden = true;
      el.append(summary, args, result);
      this.container.appendChild(el);
      call = { el, name: "", raw: "", state: "streaming" };
      this.calls.set(number, call);
      this.setState(call, "streaming");
    }
    if (name && !call.name) {
      call.name = name;
      call.el.dataset.tool = name;
      this.part(call, "tool-name").textContent = name;
    }
    return call;
  }

  /** @param {Shown} call @param {string} name */
  part(call, name) {
    return /** @type {HTMLElement} */ (call.el.querySelector(`[data-part="${name}"]`));
  }

  /** @param {Shown} call @param {string} state */
  setState(call, state) {
    call.state = state;
    call.el.dataset.state = state;
    const words = { streaming: "writing arguments…", running: "running…", done: "done", failed: "failed" };
    this.part(call, "tool-status").textContent = /** @type {Record<string, string>} */ (words)[state] ?? state;
  }

  /** A delta frame's fragments. @param {Fragment[]} fragments */
  fragments(fragments) {
    for (const fragment of fragments) {
      const call = this.shown(fragment.call, fragment.name);
      call.raw += fragment.arguments ?? "";
      this.part(call, "tool-args").textContent =
        fragment.args !== undefined ? argumentLines(fragment.args) : call.raw;
    }
  }

  /** A step frame: the call runs, or has its result. @param {StepUpdate} step */
  step(step) {
    const call = this.shown(step.call);
    this.setState(call, step.state);
    if (step.state === "done" || step.state === "failed") this.finish(call, step);
  }

  /** @param {Shown} call @param {{state?: string, result?: string, ms?: number}} step */
  finish(call, step) {
    const result = this.part(call, "tool-result");
    result.textContent = step.result ?? "";
    result.hidden = false;
    if (typeof step.ms === "number") {
      this.part(call, "tool-duration").textContent =
        step.ms >= 1000 ? `${(step.ms / 1000).toFixed(1)} s` : `${Math.round(step.ms)} ms`;
    }
    this.announce?.(`Tool ${call.name || "call"} ${step.state === "done" ? "done" : "failed"}.`);
  }

  /** A stored answer's calls, as they ended. @param {StoredCall[] | undefined} stored */
  restore(stored) {
    this.clear();
    for (const [position, saved] of (stored ?? []).entries()) {
      const call = this.shown(saved.call ?? position, saved.name);
      call.raw = saved.arguments ?? "";
      let args = /** @type {unknown} */ (call.raw);
      try {
        args = JSON.parse(call.raw);
      } catch {
        // Arguments that never parsed show as they came.
      }
      this.part(call, "tool-args").textContent = argumentLines(args);
      const state = saved.state ?? "done";
      this.setState(call, state);
      if (state === "done" || state === "failed") {
        const announce = this.announce;
        this.announce = undefined; // a stored answer is not news
        this.finish(call, saved);
        this.announce = announce;
      }
    }
  }
}
