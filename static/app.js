// @ts-check
// The chat, mounted on a root element: wires the socket, the transcript, the composer,
// scrolling and the model picker. Everything is found inside `root` and every URL is built
// from `base`, so the same modules can run on our page or inside a shadow root elsewhere.

import { Announcer } from "./announcer.js";
import { Composer } from "./composer.js";
import { installCopy } from "./copy.js";
import { ModelPicker } from "./models.js";
import { Scroller } from "./scroll.js";
import { Socket } from "./socket.js";
import { Transcript } from "./transcript.js";

/** @typedef {{base?: string}} ChatOptions */
/** @typedef {{transcript: Transcript, socket: Socket, scroller: Scroller, unmount: () => void}} Chat */

const STATE_WORDS = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  outdated: "Inkstream was updated — reload the page",
};

/**
 * The WebSocket URL for `base` ("" or a path: this page's origin; else an absolute http(s) URL).
 * @param {string} base @param {Location} here
 */
export function socketUrl(base, here) {
  const url = new URL(base.replace(/\/$/, "") + "/ws", here.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * @param {ParentNode & Node} root holds the chat's markup (templates/index.html's `.inkstream`)
 * @param {ChatOptions} [options]
 * @returns {Chat}
 */
export function mountChat(root, options = {}) {
  const base = (options.base ?? "").replace(/\/$/, "");
  /** @template {Element} T @param {string} name @returns {T} */
  const part = (name) => {
    const el = root.querySelector(`[data-ink="${name}"]`);
    if (!el) throw new Error(`inkstream: no [data-ink="${name}"] in the root`);
    return /** @type {T} */ (el);
  };
  const box = /** @type {HTMLElement} */ (part("transcript"));
  const connection = /** @type {HTMLElement} */ (part("connection"));
  const announcer = new Announcer(/** @type {HTMLElement} */ (part("announcer")));
  const scroller = new Scroller(box, /** @type {HTMLElement} */ (part("new-content")));
  const picker = new ModelPicker(/** @type {HTMLSelectElement} */ (part("model")), base);
  const templates = {
    user: /** @type {HTMLTemplateElement} */ (part("user-template")),
    assistant: /** @type {HTMLTemplateElement} */ (part("assistant-template")),
  };

  /** @type {Transcript | null} */
  let transcript = null;
  const socket = new Socket(socketUrl(base, root.ownerDocument?.location ?? location), {
    onFrame: (frame) => transcript?.onFrame(frame, performance.now()),
    onState: (state) => {
      connection.dataset.state = state;
      connection.textContent = STATE_WORDS[state] ?? state;
      if (state === "outdated") {
        connection.setAttribute("role", "alert");
        composer.disable();
      }
    },
    resume: () => transcript?.resumeFrames() ?? [],
  });

  const composer = new Composer(/** @type {HTMLFormElement} */ (part("composer")), root, {
    send: (text) => transcript?.ask(text),
    stop: () => transcript?.stopAll(),
    streaming: () => transcript?.streaming ?? false,
  });

  const live = new Transcript(box, templates, {
    send: (frame) => socket.send(frame),
    grew: () => scroller.grew(),
    announcer,
    model: () => picker.value(),
    streamingChanged: () => composer.setStreaming(live.streaming),
  });
  transcript = live;

  const uninstallCopy = installCopy(box, announcer, (article) => {
    for (const entry of live.entries) {
      if (entry.role === "assistant" && entry.message.article === article) return entry.message.text;
    }
    return article.querySelector('[data-part="content"]')?.textContent ?? "";
  });

  socket.connect();
  picker.load();
  composer.input.focus();
  return {
    transcript: live,
    socket,
    scroller,
    unmount() {
      socket.close();
      composer.dispose();
      scroller.dispose();
      uninstallCopy();
    },
  };
}
