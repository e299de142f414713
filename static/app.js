// Boot: wire the socket, the transcript, the composer, scrolling and the model picker.

import { Composer } from "./composer.js";
import { installCopy } from "./copy.js";
import { ModelPicker } from "./models.js";
import { Scroller } from "./scroll.js";
import { Socket } from "./socket.js";
import { Transcript } from "./transcript.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const box = $("transcript");
const announcer = $("announcer");
const connection = $("connection");
const scroller = new Scroller(box, $("new-content"));
const picker = new ModelPicker(/** @type {HTMLSelectElement} */ ($("model")));

/** @param {string} text */
function announce(text) {
  if (!text) return;
  const line = document.createElement("p");
  line.textContent = text;
  announcer.appendChild(line);
  while (announcer.childElementCount > 20) announcer.firstElementChild?.remove();
}

const scheme = location.protocol === "https:" ? "wss" : "ws";
/** @type {Transcript} */
let transcript;
const socket = new Socket(`${scheme}://${location.host}/ws`, {
  onFrame: (frame) => transcript.onFrame(frame, performance.now()),
  onState: (state) => {
    connection.dataset.state = state;
    connection.textContent = { connecting: "Connecting…", open: "Connected", reconnecting: "Reconnecting…" }[state] ?? state;
  },
  resume: () => transcript.resumeFrames(),
});

const composer = new Composer(/** @type {HTMLFormElement} */ ($("composer")), {
  send: (text) => transcript.ask(text),
  stop: () => transcript.stopAll(),
  streaming: () => transcript.streaming,
});

transcript = new Transcript(box, {
  send: (frame) => socket.send(frame),
  grew: () => scroller.grew(),
  announce,
  model: () => picker.value(),
  streamingChanged: () => composer.setStreaming(transcript.streaming),
});

installCopy(box, (article) => {
  for (const entry of transcript.entries) {
    if (entry.role === "assistant" && entry.message.article === article) return entry.message.text;
  }
  return article.querySelector('[data-part="content"]')?.textContent ?? "";
});

if (matchMedia("(prefers-reduced-motion: reduce)").matches) document.documentElement.dataset.motion = "reduce";

socket.connect();
picker.load();
composer.input.focus();
// For tests and the curious: the live objects.
Object.assign(window, { inkstream: { transcript, socket, scroller } });
