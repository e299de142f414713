// @ts-check
// This page's boot: mount the chat on the page's `.inkstream` root, with the stored
// conversation the server put in the page (on /c/<id>). The mounted chat is kept on the root
// element (not on window), where the browser tests and the curious find it.

import { mountChat } from "./app.js";

const root = /** @type {HTMLElement & {chat?: import("./app.js").Chat}} */ (document.querySelector("[data-inkstream]"));
const bootJson = document.getElementById("inkstream-boot")?.textContent;
/** @type {import("./conversations.js").Thread | null} */
const boot = bootJson ? JSON.parse(bootJson) : null;
root.chat = mountChat(root, { base: root.dataset.base ?? "", boot, navigate: true });
