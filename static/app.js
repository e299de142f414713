// @ts-check
// The chat, mounted on a root element: wires the socket, the transcript, the sidebar, the
// composer, scrolling and the model picker. Everything is found inside `root` and every URL is
// built from `base`, so the same modules can run on our page or inside a shadow root elsewhere.

import { Announcer } from "./announcer.js";
import { Composer } from "./composer.js";
import { Conversations } from "./conversations.js";
import { installCopy } from "./copy.js";
import { ModelPicker } from "./models.js";
import { Toolset } from "./toolset.js";
import { Scroller } from "./scroll.js";
import { Sidebar } from "./sidebar.js";
import { Socket } from "./socket.js";
import { Transcript } from "./transcript.js";

/** @typedef {import("./conversations.js").Thread} Thread */
/**
 * @typedef {object} ChatOptions
 * @property {string} [base] where the server is ("": this page's origin)
 * @property {Thread | null} [boot] the stored conversation the page opens with
 * @property {boolean} [navigate] the chat owns the page's URL (/c/<id>): our own page, not an embed
 */
/** @typedef {{transcript: Transcript, socket: Socket, scroller: Scroller, sidebar: Sidebar, unmount: () => void}} Chat */

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

/** The conversation a page path of ours names (`…/c/<id>`), or null. @param {string} path */
export function conversationOf(path) {
  const match = path.match(/\/c\/([^/.]+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

/**
 * @param {ParentNode & Node} root holds the chat's markup (templates/index.html's `.inkstream`)
 * @param {ChatOptions} [options]
 * @returns {Chat}
 */
export function mountChat(root, options = {}) {
  const base = (options.base ?? "").replace(/\/$/, "");
  const navigate = options.navigate ?? false;
  const doc = /** @type {Document} */ (root.ownerDocument ?? document);
  const win = /** @type {Window} */ (doc.defaultView ?? window);
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
  const api = new Conversations(base);
  const head = /** @type {HTMLElement} */ (part("conversation-head"));
  const headTitle = /** @type {HTMLElement} */ (part("conversation-title"));
  const exportMd = /** @type {HTMLAnchorElement} */ (part("export-md"));
  const exportJson = /** @type {HTMLAnchorElement} */ (part("export-json"));
  const notice = /** @type {HTMLElement} */ (part("notice"));
  const composerNote = /** @type {HTMLElement} */ (part("composer-note"));
  const templates = {
    user: /** @type {HTMLTemplateElement} */ (part("user-template")),
    assistant: /** @type {HTMLTemplateElement} */ (part("assistant-template")),
    welcome: /** @type {HTMLTemplateElement} */ (part("welcome-template")),
  };

  /** The header, the exports and the tab's title follow the conversation on screen.
   * @param {{id: string, title: string} | null} conversation */
  const showHead = (conversation) => {
    head.hidden = !conversation;
    if (!conversation) {
      if (navigate) doc.title = doc.body.dataset.demo === "true" ? "Inkstream — demo" : "Inkstream";
      return;
    }
    const title = conversation.title || "Untitled conversation";
    headTitle.textContent = title;
    exportMd.href = api.exportUrl(conversation.id, "md");
    exportJson.href = api.exportUrl(conversation.id, "json");
    if (navigate) doc.title = `${title} — Inkstream`;
  };

  /** @type {Transcript | null} */
  let transcript = null;
  let connectedBefore = false;
  const socket = new Socket(socketUrl(base, doc.location ?? location), {
    onFrame: (frame) => transcript?.onFrame(frame, performance.now()),
    onState: (state) => {
      connection.dataset.state = state;
      connection.textContent = STATE_WORDS[state] ?? state;
      if (state === "outdated") {
        connection.setAttribute("role", "alert");
        composer.disable();
      }
      if (state === "open" && connectedBefore) catchUp();
      if (state === "open") connectedBefore = true;
    },
    resume: () => transcript?.resumeFrames() ?? [],
  });

  const composer = new Composer(/** @type {HTMLFormElement} */ (part("composer")), root, {
    send: (text) => transcript?.ask(text),
    stop: () => transcript?.stopAll(),
    streaming: () => transcript?.streaming ?? false,
  });

  // Which navigation is the latest: a slow fetch of one conversation never replaces a newer one.
  let navigation = 0;

  /** Show a stored conversation. @param {string} id @param {{push?: boolean, keepNote?: boolean}} [how] */
  const open = async (id, { push = true, keepNote = false } = {}) => {
    const mine = ++navigation;
    /** @type {Thread} */
    let thread;
    try {
      thread = await api.get(id);
    } catch (error) {
      if (mine !== navigation) return;
      if (error instanceof Error && "code" in error && error.code === "not_found") {
        sidebar.refresh();
        if (!push) newChat({ push: false });
        setComposerNote("That conversation no longer exists.");
      } else {
        setComposerNote(`Could not open the conversation: ${error instanceof Error ? error.message : error}`);
      }
      return;
    }
    if (mine !== navigation) return;
    if (navigate && push) win.history.pushState(null, "", api.pageUrl(id));
    show(thread, { keepNote });
    composer.input.focus();
  };

  /** @param {Thread | null} thread @param {{keepNote?: boolean}} [how] */
  const show = (thread, { keepNote = false } = {}) => {
    if (!keepNote) setComposerNote(null);
    live.load(thread);
    showHead(thread ? { id: thread.conversation.id, title: thread.conversation.title } : null);
    sidebar.setActive(thread?.conversation.id ?? null);
    scroller.attach();
    scroller.toEnd();
  };

  /** @param {{push?: boolean}} [how] */
  const newChat = ({ push = true } = {}) => {
    navigation += 1;
    if (navigate && push && conversationOf(win.location.pathname) !== null) {
      win.history.pushState(null, "", `${base}/`);
    }
    show(null);
    composer.input.focus();
  };

  /** @param {string | null} text @param {string} [draft] */
  const setComposerNote = (text, draft) => {
    composerNote.textContent = text ?? "";
    composerNote.hidden = !text;
    if (draft !== undefined && !composer.input.value) {
      composer.input.value = draft;
      composer.fit();
    }
  };

  const live = new Transcript(box, templates, {
    send: (frame) => socket.send(frame),
    isOpen: () => socket.open,
    grew: () => scroller.grew(),
    announcer,
    model: () => picker.value(),
    streamingChanged: () => composer.setStreaming(live.streaming),
    conversationChanged: (conversation, { created }) => {
      if (created && navigate && conversation) win.history.replaceState(null, "", api.pageUrl(conversation.id));
      showHead(conversation);
      sidebar.setActive(conversation?.id ?? null);
      sidebar.refresh();
    },
    storageNotice: (text) => {
      notice.textContent = text ?? "";
      notice.hidden = !text;
    },
    composerNote: setComposerNote,
    resync: () => {
      if (live.conversation) open(live.conversation, { push: false, keepNote: true });
    },
    fetchThread: (id) => api.get(id),
    showBranch: async (message) => {
      const id = live.conversation;
      if (!id) return;
      const mine = ++navigation;
      try {
        const thread = await api.branch(id, message);
        if (mine !== navigation || live.conversation !== id) return;
        live.load(thread);
        live.focusVersions(message);
      } catch (error) {
        setComposerNote(`Could not show that version: ${error instanceof Error ? error.message : error}`);
      }
    },
  });
  transcript = live;

  const sidebar = new Sidebar(
    {
      nav: part("sidebar"),
      list: part("conversations"),
      note: part("sidebar-note"),
      newChat: part("new-chat"),
      toggle: part("sidebar-toggle"),
      scrim: part("scrim"),
      confirm: part("confirm-delete"),
    },
    api,
    {
      navigate,
      open: (id) => open(id),
      newChat: () => newChat(),
      renamed: (conversation) => {
        if (conversation.id === live.conversation) {
          live.title = conversation.title;
          showHead(conversation);
        }
      },
      deleted: (id) => {
        if (id === live.conversation) newChat();
      },
      say: (text) => announcer.say(text),
    },
  );

  const uninstallCopy = installCopy(box, announcer, (article) => {
    for (const entry of live.entries) {
      if (entry.role === "assistant" && entry.message.article === article) return entry.message.text;
    }
    return article.querySelector('[data-part="content"]')?.textContent ?? "";
  });

  // Back and forward move between conversations shown in this page.
  const onPopState = () => {
    const id = conversationOf(win.location.pathname);
    if (id === live.conversation) return;
    if (id) open(id, { push: false });
    else newChat({ push: false });
  };
  if (navigate) win.addEventListener("popstate", onPopState);

  /** Back after a drop: what other tabs did meanwhile (a question asked, a turn begun: its
   * `turn` frame went to a socket that was down) is in storage. Shown if the stored branch
   * differs from the screen and nothing streams here (a streaming answer resumes by itself). */
  const catchUp = async () => {
    const id = live.conversation;
    if (!id || live.streaming) return;
    const mine = navigation;
    let thread;
    try {
      thread = await api.get(id);
    } catch {
      return;
    }
    if (mine !== navigation || live.conversation !== id || live.streaming) return;
    const shown = live.entries.map((e) => (e.role === "user" ? e.id : e.message.id)).join(" ");
    if (thread.messages.map((m) => m.id).join(" ") !== shown) show(thread, { keepNote: true });
  };

  // A tab coming back to the front lists what other tabs created, renamed or deleted.
  const onVisible = () => {
    if (doc.visibilityState === "visible") sidebar.refresh();
  };
  doc.addEventListener("visibilitychange", onVisible);

  // A new chat, or a page that says its conversation is missing, is shown as the server wrote it.
  if (options.boot) show(options.boot);
  socket.connect();
  picker.load();
  const toolsEl = root.querySelector('[data-ink="tools"]');
  if (toolsEl instanceof HTMLElement) new Toolset(toolsEl, base).load();
  sidebar.refresh();
  composer.input.focus();
  return {
    transcript: live,
    socket,
    scroller,
    sidebar,
    unmount() {
      socket.close();
      composer.dispose();
      scroller.dispose();
      uninstallCopy();
      if (navigate) win.removeEventListener("popstate", onPopState);
      doc.removeEventListener("visibilitychange", onVisible);
    },
  };
}
