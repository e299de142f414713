// @ts-check
// This page's boot: mount the chat on the page's `.inkstream` root. The mounted chat is kept
// on the root element (not on window), where the browser tests and the curious find it.

import { mountChat } from "./app.js";

const root = /** @type {HTMLElement & {chat?: import("./app.js").Chat}} */ (document.querySelector("[data-inkstream]"));
root.chat = mountChat(root, { base: root.dataset.base ?? "" });
