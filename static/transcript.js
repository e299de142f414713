// @ts-check
// The conversation on screen: user and assistant articles, the stored conversation they belong
// to, and the routing of turn frames to their message. The server owns the history: a start
// names the conversation and the new text (or the answer to regenerate), never the messages.

import { Editor } from "./editor.js";
import { AssistantMessage, afterNextPaint } from "./message.js";
import { Versions } from "./versions.js";

/** @typedef {import("./announcer.js").Announcer} Announcer */
/** @typedef {import("./conversations.js").StoredMessage} StoredMessage */
/** @typedef {import("./conversations.js").Thread} Thread */
/** @typedef {{user: HTMLTemplateElement, assistant: HTMLTemplateElement, welcome: HTMLTemplateElement}} Templates */

/** @typedef {import("./socket.js").Frame} Frame */
/** @typedef {{role: "user", id: string | null, text: string, article: HTMLElement, versions: Versions,
 *   editButton: HTMLButtonElement}} UserEntry */
/** @typedef {UserEntry | {role: "assistant", message: AssistantMessage}} Entry */
/** What a start asks for: an answer to new text, or another answer in place of one. */
/** @typedef {{text: string, replaces?: string} | {regenerate: string} | {continues: string}} Request */

/**
 * What the transcript tells the rest of the page.
 * @typedef {object} TranscriptEnv
 * @property {(frame: object) => boolean} send sent now (else queued until connected)
 * @property {() => boolean} isOpen
 * @property {() => void} grew
 * @property {Announcer} announcer
 * @property {() => string | null} model
 * @property {() => void} streamingChanged
 * @property {(conversation: {id: string, title: string} | null, how: {created: boolean}) => void} conversationChanged
 * @property {(text: string | null) => void} storageNotice a database outage, or null once it is over
 * @property {(text: string | null, draft?: string) => void} composerNote a refused start, the text to put back
 * @property {() => void} resync fetch the stored conversation again and show it
 * @property {(id: string) => Promise<Thread>} fetchThread the stored conversation, as the API has it
 * @property {(message: string) => void} showBranch show the branch through this version of a message
 */

/** Messages of a conversation being opened whose content goes in at once (the newest); the page
 * /c/<id> carries as many whole (PAGE_RENDERED in server/web/transcript.py). */
const SHOWN_FIRST = 6;

const STORAGE_DOWN =
  "Saving paused — the database is unavailable; your answer keeps streaming and will be saved when it is back.";

/** What the composer says about a refused start, by the error's code. */
const REFUSED = {
  not_found: "This conversation no longer exists (it may have been deleted in another tab). Start a new chat to go on.",
  conversation_busy:
    "An answer is still being written in this conversation (perhaps in another tab). Send again once it has finished.",
  storage_unavailable: "The database is unavailable, so this message could not be recorded. Try again in a moment.",
  message_not_found: "That answer no longer exists (it may have been deleted in another tab).",
  not_last: "Only the last answer can be continued: another message follows it (perhaps from another tab).",
};

export class Transcript {
  /**
   * @param {HTMLElement} box the role="log" element
   * @param {Templates} templates a user's and an assistant's article, the new chat's greeting
   * @param {TranscriptEnv} env
   */
  constructor(box, templates, env) {
    this.box = box;
    this.templates = templates;
    this.env = env;
    /** the new chat's greeting, shown again by a new chat */
    this.welcome = templates.welcome.content.firstElementChild;
    this.refCounter = 0;
    /** @type {string} this page's name on its edits, made when first needed */
    this.clientId = "";
    /** @type {string | null} the stored conversation on screen (null: a new chat) */
    this.conversation = null;
    this.title = "";
    this.answers = 0;
    /** @type {Entry[]} */
    this.entries = [];
    /** @type {Map<string, AssistantMessage>} */
    this.byTurn = new Map();
    /** @type {Map<string, AssistantMessage>} starts sent, waiting for their turn's `start` */
    this.byRef = new Map();
    /** @type {WeakMap<AssistantMessage, Request>} */
    this.requests = new WeakMap();
    /** @type {Set<string>} a Stop pressed before the turn id was known */
    this.stopWhenStarted = new Set();
    /** @type {Set<string>} refs of starts waiting in the socket's queue */
    this.pendingStarts = new Set();
    /** @type {Map<string, string>} turns another tab started here, subscribed to, not yet begun: turn -> ref */
    this.watched = new Map();
  }

  /** Whether an answer streams changed: the composer's Stop, and which answer offers Continue. */
  changed() {
    this.env.streamingChanged();
    this.actions();
  }

  get streaming() {
    return this.entries.some((e) => e.role === "assistant" && e.message.streaming);
  }

  /** This page's name on its edits (their acknowledgements come back with it). */
  get client() {
    if (!this.clientId) this.clientId = `pg_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    return this.clientId;
  }

  newRef() {
    return `r${Date.now().toString(36)}${(this.refCounter++).toString(36)}`;
  }

  // ------------------------------------------------------------- what is shown

  /** Show `thread` (a stored conversation) or, for null, a new chat. @param {Thread | null} thread */
  load(thread) {
    const was = this.conversation;
    this.box.replaceChildren();
    this.entries = [];
    this.byTurn.clear();
    this.byRef.clear();
    this.stopWhenStarted.clear();
    this.pendingStarts.clear();
    this.watched.clear();
    this.answers = 0;
    this.conversation = thread?.conversation.id ?? null;
    this.title = thread?.conversation.title ?? "";
    if (!thread) {
      if (this.welcome) this.box.appendChild(this.welcome.cloneNode(true));
    } else {
      // The newest answers first on screen: older ones get their content a task each, after.
      const soon = thread.messages.length - SHOWN_FIRST;
      thread.messages.forEach((stored, index) => this.showStored(stored, index < soon));
      this.fetchLater(thread.conversation.id);
    }
    if ((this.conversation || was) && this.env.isOpen()) {
      this.env.send({ type: "watch", conversation: this.conversation });
    }
    this.changed();
  }

  /**
   * The content of the answers the page came without (the older ones of the conversation it
   * opened with), from the API once the newest have been painted; each goes in with a task of
   * its own. One that cannot be had says so.
   * @param {string} id the conversation
   */
  fetchLater(id) {
    const waiting = this.entries.flatMap((e) => (e.role === "assistant" && e.message.htmlLater ? [e.message] : []));
    if (!waiting.length) return;
    const fetchAll = async () => {
      /** @type {Map<string, StoredMessage>} */
      let byId = new Map();
      try {
        const full = await this.env.fetchThread(id);
        byId = new Map(full.messages.map((m) => [m.id, m]));
      } catch {
        // Each waiting answer says it could not be loaded (below).
      }
      if (this.conversation !== id) return;
      for (const message of waiting) {
        const found = message.id === null ? undefined : byId.get(message.id);
        setTimeout(() => {
          if (!message.htmlLater) return; // shown otherwise meanwhile (a replay, a retry)
          if (typeof found?.html === "string") message.fill(found.html, { text: found.text, original: found.original });
          else message.fillFailed();
        }, 0);
      }
    };
    afterNextPaint(this.box.ownerDocument, fetchAll);
  }

  /** Show an answer's stored content again (its rendered view went out of step with the
   * server's); an open editor stays as it is. @param {AssistantMessage} message */
  async refill(message) {
    const id = this.conversation;
    if (!id || !message.id) return;
    try {
      const thread = await this.env.fetchThread(id);
      const stored = thread.messages.find((m) => m.id === message.id);
      if (stored && typeof stored.html === "string" && this.conversation === id && !message.streaming) {
        message.fill(stored.html, { text: stored.text, original: stored.original });
        if (typeof stored.version === "number") message.version = stored.version;
      }
    } catch {
      // The next revision, or a reload, shows it.
    }
  }

  /** @param {StoredMessage} stored @param {boolean} [later] its content may come a moment later */
  showStored(stored, later = false) {
    if (stored.role === "user") {
      const entry = this.addUser(stored.text ?? "", stored.id);
      entry.versions.show(stored.versions ?? [], stored.id);
      return;
    }
    if (stored.role !== "assistant") return;
    const message = this.newAssistant();
    this.entries.push({ role: "assistant", message });
    message.showStored(stored, { later });
    if (message.streaming && message.turn) this.follow(message, message.turn);
  }

  /** Follow a turn from its first frame: its replay rebuilds `message`. @param {AssistantMessage} message @param {string} turn */
  follow(message, turn) {
    message.turn = turn;
    message.ref = this.newRef();
    this.byTurn.set(turn, message);
    // While the socket is down, its resume frames subscribe once it is back.
    if (this.env.isOpen()) this.env.send({ type: "subscribe", turn, after: -1, ref: message.ref });
  }

  /** The new chat's greeting (or the page's "not here" notice) gives way to messages. */
  clearGreeting() {
    for (const node of this.box.querySelectorAll("[data-welcome], [data-missing]")) node.remove();
  }

  /** @param {string} text @param {string | null} id */
  addUser(text, id) {
    this.clearGreeting();
    const article = /** @type {HTMLElement} */ (this.templates.user.content.firstElementChild?.cloneNode(true));
    /** @type {HTMLElement} */ (article.querySelector('[data-part="content"]')).textContent = text;
    this.box.appendChild(article);
    const users = this.entries.filter((e) => e.role === "user").length + 1;
    const nav = /** @type {HTMLElement} */ (article.querySelector('[data-part="versions"]'));
    const editButton = /** @type {HTMLButtonElement} */ (article.querySelector('[data-action="edit-question"]'));
    editButton.setAttribute("aria-label", `Edit question ${users}`);
    /** @type {UserEntry} */
    const entry = {
      role: "user",
      id,
      text,
      article,
      versions: new Versions(nav, `question ${users}`, (version) => this.env.showBranch(version)),
      editButton,
    };
    editButton.addEventListener("click", () => this.editQuestion(entry));
    this.entries.push(entry);
    return entry;
  }

  newAssistant() {
    this.clearGreeting();
    const article = /** @type {HTMLElement} */ (this.templates.assistant.content.firstElementChild?.cloneNode(true));
    this.box.appendChild(article);
    this.answers += 1;
    const message = new AssistantMessage(article, this.answers, {
      onFrozen: (nodes) => this.env.announcer.frozen(nodes),
      onVersion: (id) => this.env.showBranch(id),
      onBroken: () => {
        // Rebuild the answer from the server's log of it.
        if (!message.turn) return;
        message.replay();
        this.env.send({ type: "subscribe", turn: message.turn, after: -1, ref: message.ref });
      },
    });
    message.onShown = (frame) => this.shown(frame);
    message.onStale = () => this.refill(message);
    message.retryButton.addEventListener("click", () => this.retry(message));
    message.continueButton.addEventListener("click", () => this.continueAnswer(message));
    message.regenerateButton.addEventListener("click", () => this.retry(message));
    message.editButton.addEventListener("click", () => this.toggleEditor(message));
    return message;
  }

  /** Open the editor of an answer's markdown, or close it (Done). @param {AssistantMessage} message */
  toggleEditor(message) {
    const button = message.editButton;
    if (message.editor) {
      message.editor.close();
      // Edits still on their way are sent once the server has taken the ones before them.
      message.draining = message.editor.busy ? message.editor : null;
      message.editor = null;
      button.textContent = "Edit";
      button.setAttribute("aria-label", `Edit answer ${message.number}`);
      button.hidden = !message.streaming && !message.id;
      if (!button.hidden) button.focus();
      this.actions();
      return;
    }
    const editor = new Editor(message.content, {
      send: (/** @type {object} */ frame) => this.env.send(frame),
      client: this.client,
      newRef: () => this.newRef(),
      label: `Markdown of answer ${message.number}`,
      target: () => {
        if (message.streaming) return message.turn ? { turn: message.turn } : null;
        return message.id ? { message: message.id } : null;
      },
      version: () => message.version,
      text: () => message.text,
      closed: () => this.toggleEditor(message),
    });
    message.editor = editor;
    button.textContent = "Done";
    button.setAttribute("aria-label", `Done editing answer ${message.number}`);
    editor.focus();
  }

  /** Take `entry` and everything after it off the screen. @param {number} index */
  truncate(index) {
    for (const entry of this.entries.splice(index)) {
      if (entry.role === "user") {
        entry.article.remove();
        continue;
      }
      entry.message.article.remove();
      if (entry.message.turn) this.byTurn.delete(entry.message.turn);
      this.byRef.delete(entry.message.ref);
    }
  }

  // ------------------------------------------------------------------- asking

  /** A new question. @param {string} text */
  ask(text) {
    this.env.composerNote(null);
    this.addUser(text, null);
    const message = this.newAssistant();
    this.entries.push({ role: "assistant", message });
    this.requests.set(message, { text });
    this.start(message);
  }

  /** Another answer in place of `message` (failed or stopped); what came after it goes. @param {AssistantMessage} message */
  retry(message) {
    const index = this.entries.findIndex((e) => e.role === "assistant" && e.message === message);
    if (index < 0) return;
    this.env.composerNote(null);
    this.truncate(index + 1);
    if (message.id) {
      this.requests.set(message, { regenerate: message.id });
    } else {
      // Refused before it was stored: ask the question again.
      const user = this.entries[index - 1];
      this.requests.set(message, { text: user?.role === "user" ? user.text : "" });
    }
    this.start(message);
  }

  /** Continue `message` from its text as it stands, into the same message. @param {AssistantMessage} message */
  continueAnswer(message) {
    if (!message.id || !this.conversation || this.streaming) return;
    this.env.composerNote(null);
    if (message.turn) this.byTurn.delete(message.turn);
    message.before = { state: message.state, finishReason: message.finishReason };
    message.resume();
    message.observed = true;
    message.ref = this.newRef();
    this.byRef.set(message.ref, message);
    this.requests.set(message, { continues: message.id });
    if (!this.env.send(this.startFrame(message))) this.pendingStarts.add(message.ref);
    this.env.announcer.say("The assistant is continuing.");
    this.changed();
  }

  /** After switching versions, the navigator just used keeps the focus (its article was
   * rebuilt). @param {string} id the version now shown */
  focusVersions(id) {
    for (const entry of this.entries) {
      const versions = entry.role === "user" ? entry.versions : entry.message.versions;
      if (versions.current === id && !versions.nav.hidden) {
        const button = versions.next.disabled ? versions.previous : versions.next;
        button.focus();
        return;
      }
    }
  }

  /** The id of the last message shown. */
  lastId() {
    const last = this.entries[this.entries.length - 1];
    return last ? (last.role === "user" ? last.id : last.message.id) : null;
  }

  /** What each message offers while nothing streams: Continue on the last answer, when it
   * stopped short or was edited; Regenerate on every answer that did not fail (a failed one has
   * Retry); Edit on every question. */
  actions() {
    const streaming = this.streaming;
    const last = this.entries[this.entries.length - 1];
    for (const entry of this.entries) {
      if (entry.role === "user") {
        entry.editButton.hidden = streaming || !entry.id || entry.article.querySelector(".question-editor") !== null;
        continue;
      }
      const message = entry.message;
      message.continueButton.hidden = streaming || entry !== last || !message.id || !message.continuable;
      message.regenerateButton.hidden = streaming || !message.id || !message.retryButton.hidden;
    }
  }

  /** Edit a question in place, to send it again as a new version (the old one stays, as a
   * branch). @param {UserEntry} entry */
  editQuestion(entry) {
    const article = entry.article;
    if (!entry.id || article.querySelector(".question-editor")) return;
    const content = /** @type {HTMLElement} */ (article.querySelector('[data-part="content"]'));
    const number = this.entries.filter((e) => e.role === "user").indexOf(entry) + 1;
    const doc = article.ownerDocument;
    const form = doc.createElement("form");
    form.className = "question-editor";
    const area = doc.createElement("textarea");
    area.value = entry.text;
    area.setAttribute("aria-label", `New version of question ${number}`);
    const actions = doc.createElement("div");
    actions.className = "question-actions";
    const cancel = doc.createElement("button");
    cancel.type = "button";
    cancel.className = "link-button";
    cancel.textContent = "Cancel";
    const send = doc.createElement("button");
    send.type = "submit";
    send.className = "send";
    send.textContent = "Send";
    actions.append(cancel, send);
    form.append(area, actions);
    content.hidden = true;
    content.after(form);
    const close = () => {
      form.remove();
      content.hidden = false;
      this.actions();
      entry.editButton.focus();
    };
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = area.value;
      if (!text.trim() || this.streaming) return;
      this.resend(entry, text);
    });
    this.actions();
    area.focus();
  }

  /** Send `text` as a new version of the question `entry`: what followed it goes from the
   * screen (it stays stored, on the old branch). @param {UserEntry} entry @param {string} text */
  resend(entry, text) {
    const index = this.entries.indexOf(entry);
    if (index < 0 || !entry.id) return;
    const old = entry.id;
    const versions = entry.versions.ids.length ? entry.versions.ids : [old];
    this.env.composerNote(null);
    this.truncate(index);
    const fresh = this.addUser(text, null);
    fresh.versions.show(versions, null);
    const message = this.newAssistant();
    this.entries.push({ role: "assistant", message });
    this.requests.set(message, { text, replaces: old });
    this.start(message);
  }

  /** Send the turn that produces `message`. @param {AssistantMessage} message */
  start(message) {
    if (message.turn) this.byTurn.delete(message.turn);
    message.reset();
    message.observed = true;
    message.ref = this.newRef();
    this.byRef.set(message.ref, message);
    // Sent while the socket is down, it waits in the socket's queue: not an orphan to restart.
    if (!this.env.send(this.startFrame(message))) this.pendingStarts.add(message.ref);
    this.env.announcer.say("The assistant is answering.");
    this.changed();
    this.env.grew();
  }

  /** @param {AssistantMessage} message */
  startFrame(message) {
    /** @type {Record<string, unknown>} */
    const frame = { type: "start", ref: message.ref, ...this.requests.get(message) };
    if (this.conversation) frame.conversation = this.conversation;
    const model = this.env.model();
    if (model) frame.model = model;
    return frame;
  }

  stopAll() {
    for (const entry of this.entries) {
      if (entry.role !== "assistant" || !entry.message.streaming) continue;
      const message = entry.message;
      if (message.turn) this.env.send({ type: "stop", turn: message.turn });
      else this.stopWhenStarted.add(message.ref);
    }
  }

  /** Frames that pick everything up after a (re)connect: the conversation watched again, a
   * subscribe from the last frame seen for every answer still streaming, and, for an answer
   * whose turn never got to us, its start again (with the same ref). */
  resumeFrames() {
    /** @type {object[]} */
    const frames = [];
    if (this.conversation) frames.push({ type: "watch", conversation: this.conversation });
    for (const entry of this.entries) {
      if (entry.role !== "assistant" || !entry.message.streaming) continue;
      const message = entry.message;
      if (message.turn) {
        frames.push({ type: "subscribe", turn: message.turn, after: message.lastSeq, ref: message.ref });
      } else if (this.byRef.has(message.ref) && !this.pendingStarts.has(message.ref)) {
        frames.push(this.startFrame(message));
      }
    }
    for (const [turn, ref] of this.watched) frames.push({ type: "subscribe", turn, after: -1, ref });
    this.pendingStarts.clear();
    return frames;
  }

  // ------------------------------------------------------------------- frames

  /** @param {Frame} frame @param {number} receivedAt */
  onFrame(frame, receivedAt) {
    switch (frame.type) {
      case "error":
        this.onError(frame);
        return;
      case "storage":
        this.env.storageNotice(frame.ok ? null : STORAGE_DOWN);
        return;
      case "turn":
        this.onTurn(frame);
        return;
      case "message":
        this.onStored(frame);
        return;
      case "branch":
        // Another tab chose another version: this one shows that branch too.
        if (frame.conversation === this.conversation && !this.streaming && this.lastId() !== frame.head) this.env.resync();
        return;
      case "edit":
        if (!frame.turn) {
          this.onRevised(frame);
          return;
        }
    }
    if (!frame.turn) return;
    let message = this.byTurn.get(frame.turn);
    if (!message && frame.type === "start" && frame.ref && this.byRef.has(frame.ref)) {
      message = /** @type {AssistantMessage} */ (this.byRef.get(frame.ref));
      this.byRef.delete(frame.ref);
      this.pendingStarts.delete(frame.ref);
      this.watched.delete(frame.turn);
      message.turn = frame.turn;
      this.byTurn.set(frame.turn, message);
      if (this.stopWhenStarted.delete(frame.ref)) this.env.send({ type: "stop", turn: frame.turn });
      this.begun(message, frame);
    } else if (!message && frame.type === "start" && this.watched.has(frame.turn)) {
      message = this.watchedStart(frame);
    }
    if (!message || message.turn !== frame.turn) return;
    message.apply(frame, receivedAt);
  }

  /** Our start is a turn now: its `start` names the conversation and the stored messages.
   * @param {AssistantMessage} message @param {Frame} frame */
  begun(message, frame) {
    if (frame.message) message.id = frame.message;
    const index = this.entries.findIndex((e) => e.role === "assistant" && e.message === message);
    const user = this.entries[index - 1];
    if (user?.role === "user" && frame.user?.id) user.id = frame.user.id;
    this.versioned(message, user, frame);
    const id = frame.conversation;
    if (typeof id !== "string") return;
    const created = id !== this.conversation;
    this.conversation = id;
    if (typeof frame.title === "string") this.title = frame.title;
    if (created && this.env.isOpen()) this.env.send({ type: "watch", conversation: id });
    this.env.conversationChanged({ id, title: this.title }, { created });
  }

  /** A turn that made a new version (a regenerated answer, a question sent again): its
   * navigator counts it. @param {AssistantMessage} message @param {Entry | undefined} user @param {Frame} frame */
  versioned(message, user, frame) {
    if (frame.regenerate && frame.message) message.versions.added(frame.regenerate, frame.message);
    if (frame.replaces && user?.role === "user" && frame.user?.id) user.versions.added(frame.replaces, frame.user.id);
  }

  /** Another tab started a turn in this conversation. @param {Frame} frame */
  onTurn(frame) {
    const turn = frame.turn;
    if (!turn || frame.conversation !== this.conversation) return;
    if (this.byTurn.has(turn) || this.watched.has(turn)) return;
    const ref = this.newRef();
    this.watched.set(turn, ref);
    this.env.send({ type: "subscribe", turn, after: -1, ref });
  }

  /** The `start` of a turn another tab began: it names the user message it answers (and the
   * answer it replaces, for a regenerate). @param {Frame} frame @returns {AssistantMessage} */
  watchedStart(frame) {
    const turn = /** @type {string} */ (frame.turn);
    const ref = /** @type {string} */ (this.watched.get(turn));
    this.watched.delete(turn);
    const replaced = frame.regenerate
      ? this.entries.findIndex((e) => e.role === "assistant" && e.message.id === frame.regenerate)
      : -1;
    const continued = frame.resumed
      ? this.entries.findIndex((e) => e.role === "assistant" && e.message.id === frame.message)
      : -1;
    /** @type {AssistantMessage} */
    let message;
    if (continued >= 0) {
      this.truncate(continued + 1);
      message = /** @type {{message: AssistantMessage}} */ (this.entries[continued]).message;
      message.resume();
    } else if (replaced >= 0) {
      this.truncate(replaced + 1);
      message = /** @type {{message: AssistantMessage}} */ (this.entries[replaced]).message;
      message.reset();
      message.versions.added(frame.regenerate, frame.message);
    } else {
      const question = frame.replaces
        ? this.entries.findIndex((e) => e.role === "user" && e.id === frame.replaces)
        : -1;
      /** @type {string[]} */
      let versions = [];
      if (question >= 0) {
        const old = /** @type {UserEntry} */ (this.entries[question]);
        versions = old.versions.ids.length ? old.versions.ids : [old.id ?? ""];
        this.truncate(question);
      }
      const userId = frame.user?.id;
      const shown = userId && this.entries.some((e) => e.role === "user" && e.id === userId);
      if (!shown && frame.user) {
        const entry = this.addUser(frame.user.text ?? "", userId ?? null);
        if (versions.length && userId) entry.versions.show([...versions, userId], userId);
      }
      message = this.newAssistant();
      this.entries.push({ role: "assistant", message });
    }
    message.id = frame.message ?? null;
    message.turn = turn;
    message.ref = ref;
    this.byTurn.set(turn, message);
    if (typeof frame.title === "string" && frame.title !== this.title && this.conversation) {
      this.title = frame.title;
      this.env.conversationChanged({ id: this.conversation, title: this.title }, { created: false });
    }
    this.changed();
    this.env.grew();
    return message;
  }

  /** The server no longer holds a turn we asked for: here is its stored message. @param {Frame} frame */
  onStored(frame) {
    const turn = frame.turn;
    if (!turn || (frame.conversation && frame.conversation !== this.conversation)) return;
    const message = this.byTurn.get(turn);
    if (!message) {
      // A turn announced by another tab that ended before we got to it.
      if (this.watched.delete(turn)) this.env.resync();
      return;
    }
    this.byTurn.delete(turn);
    /** @type {StoredMessage} */
    const stored = frame.message;
    message.showStored(stored);
    if (message.streaming) {
      this.byTurn.delete(message.turn ?? "");
      message.showDetached();
    }
    this.shown({ type: "end", state: message.state, error: stored.error });
  }

  /** An edit of an answer no turn streams, stored. @param {Frame} frame */
  onRevised(frame) {
    if (frame.conversation !== this.conversation) return;
    for (const entry of this.entries) {
      if (entry.role !== "assistant" || entry.message.id !== frame.message) continue;
      const message = entry.message;
      if (message.streaming) {
        // Stored just before a Continue began (its text is in the turn's): the editor's
        // acknowledgement all the same.
        if (frame.origin === this.client) (message.editor ?? message.draining)?.take(frame);
        continue;
      }
      message.revised(frame);
      this.actions();
      this.env.grew();
    }
  }

  /** A frame of `message` is on screen. @param {Frame} frame */
  shown(frame) {
    if (frame.type === "end") {
      const words = { done: "Answer complete.", stopped: "Answer stopped.", incomplete: "Answer incomplete." };
      const state = /** @type {keyof typeof words | "error"} */ (frame.state);
      this.env.announcer.say(state === "error" ? `Error: ${frame.error?.message ?? ""}` : words[state] ?? "");
      this.changed();
    }
    this.env.grew();
  }

  /** The message an error names by its ref. @param {string | undefined} ref */
  byErrorRef(ref) {
    if (!ref) return undefined;
    const started = this.byRef.get(ref);
    if (started) return { message: started, starting: true };
    for (const entry of this.entries) {
      if (entry.role === "assistant" && entry.message.ref === ref) return { message: entry.message, starting: false };
    }
    return undefined;
  }

  /** A protocol error; one naming a frame of a message (its start, or a resubscribe) fails that
   * message, with Retry. @param {Frame} frame */
  onError(frame) {
    for (const entry of this.entries) {
      if (entry.role === "assistant" && (entry.message.editor ?? entry.message.draining)?.refused(frame)) return;
    }
    for (const [turn, ref] of this.watched) if (ref === frame.ref) this.watched.delete(turn);
    const found = this.byErrorRef(frame.ref);
    // A refused start recorded nothing and streams nothing: the composer says so (below), not
    // the notice that an answer keeps streaming unsaved.
    if (frame.code === "storage_unavailable" && !found?.starting) this.env.storageNotice(STORAGE_DOWN);
    if (!found || !found.message.streaming) {
      if (frame.code !== "storage_unavailable") console.warn("inkstream:", frame.code, frame.message);
      return;
    }
    const { message, starting } = found;
    this.byRef.delete(frame.ref);
    this.pendingStarts.delete(frame.ref);
    const refused = REFUSED[/** @type {keyof typeof REFUSED} */ (frame.code)];
    const request = this.requests.get(message);
    if (starting && refused && request && "text" in request && !request.replaces) {
      // Nothing was stored: the question goes back into the box, with why.
      const index = this.entries.findIndex((e) => e.role === "assistant" && e.message === message);
      this.truncate(Math.max(0, index - 1));
      if (!this.entries.length && this.welcome && !this.conversation) this.box.appendChild(this.welcome.cloneNode(true));
      this.env.composerNote(refused, request.text);
      this.env.announcer.say(refused);
      this.changed();
      if (frame.code === "conversation_busy") this.env.resync();
      return;
    }
    if (starting && request && !("text" in request && !request.replaces)) {
      // A Continue, a Regenerate or a question sent again: nothing changed on the server, so
      // the conversation is shown as it is stored (the answer as it was meanwhile).
      const why = refused ?? frame.message ?? "That could not be done.";
      message.stale = false;
      if ("continues" in request) message.end({ type: "end", state: message.before.state, finish_reason: message.before.finishReason });
      else message.end({ type: "end", state: "error", error: { message: frame.message } });
      this.changed();
      this.env.composerNote(why);
      this.env.announcer.say(why);
      this.env.resync();
      return;
    }
    if (starting && refused) this.env.composerNote(refused);
    message.end({ type: "end", state: "error", error: { message: frame.message } });
    message.renderMetrics();
    this.env.announcer.say(`Error: ${frame.message}`);
    this.changed();
  }
}
