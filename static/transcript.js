// @ts-check
// The conversation: user and assistant articles, the history sent with each turn, and the
// routing of turn frames to their message.

import { AssistantMessage } from "./message.js";

/** @typedef {import("./announcer.js").Announcer} Announcer */
/** @typedef {{user: HTMLTemplateElement, assistant: HTMLTemplateElement}} Templates */

/** @typedef {import("./socket.js").Frame} Frame */
/** @typedef {{role: "user", text: string} | {role: "assistant", message: AssistantMessage}} Entry */

export class Transcript {
  /**
   * @param {HTMLElement} box the role="log" element
   * @param {Templates} templates a user's and an assistant's article
   * @param {{send: (frame: object) => boolean, grew: () => void, announcer: Announcer,
   *          model: () => string | null, streamingChanged: () => void}} env
   */
  constructor(box, templates, env) {
    this.box = box;
    this.templates = templates;
    this.env = env;
    this.refCounter = 0;
    /** answers so far, to name each one's buttons */
    this.answers = 0;
    /** @type {Entry[]} */
    this.entries = [];
    /** @type {Map<string, AssistantMessage>} */
    this.byTurn = new Map();
    /** @type {Map<string, AssistantMessage>} */
    this.byRef = new Map();
    /** @type {Map<string, boolean>} a Stop pressed before the turn id was known */
    this.stopWhenStarted = new Map();
    /** @type {Set<string>} refs of starts waiting in the socket's queue */
    this.pendingStarts = new Set();
  }

  get streaming() {
    return this.entries.some((e) => e.role === "assistant" && e.message.streaming);
  }

  /** @param {string} text */
  ask(text) {
    this.box.querySelector("[data-welcome]")?.remove();
    const user = /** @type {HTMLElement} */ (this.templates.user.content.firstElementChild?.cloneNode(true));
    /** @type {HTMLElement} */ (user.querySelector('[data-part="content"]')).textContent = text;
    this.box.appendChild(user);
    this.entries.push({ role: "user", text });
    const message = this.newAssistant();
    this.entries.push({ role: "assistant", message });
    this.start(message);
  }

  newAssistant() {
    const article = /** @type {HTMLElement} */ (this.templates.assistant.content.firstElementChild?.cloneNode(true));
    this.box.appendChild(article);
    this.answers += 1;
    const message = new AssistantMessage(article, this.answers, {
      onFrozen: (nodes) => this.env.announcer.frozen(nodes),
      onBroken: () => {
        // Rebuild the answer from the server's log of it.
        if (!message.turn) return;
        message.replay();
        this.env.send({ type: "subscribe", turn: message.turn, after: -1, ref: message.ref });
      },
    });
    message.onShown = (frame) => this.shown(frame);
    message.retryButton.addEventListener("click", () => this.start(message));
    return message;
  }

  /**
   * Send (or re-send) the turn that produces `message`.
   * @param {AssistantMessage} message @param {{send?: boolean}} [options]
   */
  start(message, { send = true } = {}) {
    if (message.turn) this.byTurn.delete(message.turn);
    message.reset();
    message.ref = `r${Date.now().toString(36)}${(this.refCounter++).toString(36)}`;
    this.byRef.set(message.ref, message);
    // Sent while the socket is down, it waits in the socket's queue: not an orphan to restart.
    if (send && !this.env.send(this.startFrame(message))) this.pendingStarts.add(message.ref);
    this.env.announcer.say("The assistant is answering.");
    this.env.streamingChanged();
    this.env.grew();
  }

  /** @param {AssistantMessage} message */
  startFrame(message) {
    const frame = { type: "start", ref: message.ref, messages: this.history(message) };
    const model = this.env.model();
    if (model) Object.assign(frame, { model });
    return frame;
  }

  /** The conversation before `message`, as chat messages. @param {AssistantMessage} message */
  history(message) {
    const messages = [];
    for (const entry of this.entries) {
      if (entry.role === "assistant" && entry.message === message) break;
      if (entry.role === "user") messages.push({ role: "user", content: entry.text });
      else if (entry.message.text) messages.push({ role: "assistant", content: entry.message.text });
    }
    return messages;
  }

  stopAll() {
    for (const entry of this.entries) {
      if (entry.role !== "assistant" || !entry.message.streaming) continue;
      const message = entry.message;
      if (message.turn) this.env.send({ type: "stop", turn: message.turn });
      else this.stopWhenStarted.set(message.ref, true);
    }
  }

  /** Frames that pick up every answer still streaming, after a reconnect: a subscribe from the
   * last frame seen, or, for an answer whose turn never got to us, the start again. */
  resumeFrames() {
    const frames = [];
    for (const entry of this.entries) {
      if (entry.role !== "assistant" || !entry.message.streaming) continue;
      const message = entry.message;
      if (message.turn) {
        frames.push({ type: "subscribe", turn: message.turn, after: message.lastSeq, ref: message.ref });
      } else if (!this.pendingStarts.has(message.ref)) {
        this.start(message, { send: false });
        frames.push(this.startFrame(message));
      }
    }
    this.pendingStarts.clear();
    return frames;
  }

  /** @param {Frame} frame @param {number} receivedAt */
  onFrame(frame, receivedAt) {
    if (frame.type === "error") {
      this.onError(frame);
      return;
    }
    if (!frame.turn) return;
    let message = this.byTurn.get(frame.turn);
    if (!message && frame.type === "start" && frame.ref) {
      message = this.byRef.get(frame.ref);
      if (message) {
        this.byRef.delete(frame.ref);
        this.pendingStarts.delete(frame.ref);
        message.turn = frame.turn;
        this.byTurn.set(frame.turn, message);
        if (this.stopWhenStarted.delete(frame.ref)) this.env.send({ type: "stop", turn: frame.turn });
      }
    }
    if (!message || message.turn !== frame.turn) return;
    message.apply(frame, receivedAt);
  }

  /** A frame of `message` is on screen. @param {Frame} frame */
  shown(frame) {
    if (frame.type === "end") {
      const words = { done: "Answer complete.", stopped: "Answer stopped.", incomplete: "Answer incomplete." };
      const state = /** @type {keyof typeof words | "error"} */ (frame.state);
      this.env.announcer.say(state === "error" ? `Error: ${frame.error?.message ?? ""}` : words[state] ?? "");
      this.env.streamingChanged();
    }
    this.env.grew();
  }

  /** A protocol error; one naming a frame of a message (its start, or a resubscribe) fails that
   * message, with Retry. @param {Frame} frame */
  onError(frame) {
    let message = frame.ref ? this.byRef.get(frame.ref) : undefined;
    if (!message && frame.ref) {
      for (const entry of this.entries) {
        if (entry.role === "assistant" && entry.message.ref === frame.ref) message = entry.message;
      }
    }
    if (!message || !message.streaming) {
      console.warn("inkstream:", frame.code, frame.message);
      return;
    }
    this.byRef.delete(frame.ref);
    this.pendingStarts.delete(frame.ref);
    message.end({ type: "end", state: "error", error: { message: frame.message } });
    message.renderMetrics();
    this.env.announcer.say(`Error: ${frame.message}`);
    this.env.streamingChanged();
  }
}
