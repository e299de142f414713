// @ts-check
// Applies the server's render operations to one answer's content element.
//
// The element holds top-level blocks, each with an id the server gives it (stamped on its
// elements as data-block): frozen blocks, never touched again unless an operation names them,
// and one live block at the end, swapped as a unit. Containers in the live block (a list, a
// table, a code block) open a nested level whose finished children freeze inside them.
// docs/protocol.md lists the operations and server/markdown/ops.py is their schema;
// tests/support/dom.py is the same logic in Python, used by the renderer's unit tests.
//
// The top-level blocks do not sit in the element itself but in runs of consecutive blocks, each
// in a chunk (`div.chunk`, chrome to unwrap, like a code block's frame). A long answer holds
// thousands of blocks: as direct children of one element, every frame's layout walked all of
// them and every paint visited each one. A full chunk is done for, and the stylesheet lets the
// browser skip its layout and paint while it is off screen (content-visibility), so a frame costs
// what changed and what shows, not how long the answer already is. Blocks never move between
// chunks: a new chunk starts only between two blocks, once the current one is full.

/** @typedef {{id: number, html: string}} Block */
/** @typedef {{op: string, id?: number, html?: string, blocks?: Array<string | Block>, text?: string,
 *   depth?: number, slot?: string|null, remove?: number[], before?: number|null, after?: number|null}} Op */
/** Children of a big block held back for later frames.
 * @typedef {{op: "refill", parent: Element, nodes: Node[], announce: Node[] | null}} Refill */

/**
 * @typedef {object} Level
 * @property {Element} parent  where this level's nodes live
 * @property {Node[]} live     the live nodes, always last in parent
 * @property {Node[][]} blocks frozen blocks (tracked at the top level, for reconcile splices)
 */

/** @param {HTMLTemplateElement} template @param {string} html @returns {Node[]} */
function nodesOf(template, html) {
  template.innerHTML = html;
  const nodes = Array.from(template.content.childNodes);
  template.content.replaceChildren();
  return nodes;
}

/** @param {string | Block} block */
function htmlOf(block) {
  return typeof block === "string" ? block : block.html;
}

/** Bytes of HTML a node stands for. @param {Node} node */
function sizeOf(node) {
  return node instanceof Element ? node.outerHTML.length : (node.textContent ?? "").length;
}

/** The block's id on each of its elements. @param {Node[]} nodes @param {number} id */
function stamp(nodes, id) {
  for (const node of nodes) if (node instanceof Element) node.setAttribute("data-block", String(id));
}

/** @param {Node} node */
function isBlank(node) {
  return node.nodeType === Node.TEXT_NODE && !/\S/.test(node.textContent ?? "");
}

/** @param {Node[] | NodeListOf<ChildNode>} nodes */
function lastMeaningful(nodes) {
  for (let i = nodes.length - 1; i >= 0; i--) if (!isBlank(nodes[i])) return nodes[i];
  return null;
}

// How much new HTML one animation frame takes in. A firehose upstream can deliver more per
// frame than a browser lays out in 50 ms; what is left waits for the next frame (and shows in
// the message's render-lag metric). A single block bigger than the budget goes in without its
// longest list of children (a table's rows, a code block's lines), which follow over the next
// frames. The budget follows each frame's measured cost (below): a frame that left work queued
// grows it, one that cost more than twice LATE_FRAME_MS shrinks it. Most of a frame's
// cost does not depend on how much went in (style, layout and paint of what changed, the
// commit), so on a slow CPU the page keeps up by taking more per frame, not by taking less.
const FRAME_BUDGET = 4 * 1024;
const MIN_BUDGET = 1024;
const MAX_BUDGET = 64 * 1024;
const LATE_FRAME_MS = 40;

// What share of the main thread the frames that show new text may take. Every frame with a
// change pays for style, layout, paint and commit however little changed: on a phone-class CPU
// (4x throttled) that was ~25 ms a frame, and at the 30 frames/s the server sends, nine tenths
// of the thread, with keys and clicks waiting behind. So each frame's cost is measured (from its
// animation-frame callback to the task after its rendering) and the next one waits long enough
// to keep that share: a fast machine still takes every frame, a slow one takes fewer, each with
// more text in it. Never longer than MAX_GAP_MS between two, so the text still flows.
const BUSY_SHARE = 0.15;
const MAX_GAP_MS = 250;

// How much a chunk holds before the next top-level block starts a new one. Small chunks let more
// of the answer be skipped; each chunk costs a box of its own. Measured by benchmarks/page.py on
// the demo's 224 KB answer (docs/architecture.md).
const CHUNK_HTML = 6 * 1024;
const CHUNK_BLOCKS = 16;

/**
 * The next chunk, at the end of `root`: open (never skipped) until the one after it starts, when
 * `previous` closes. The chunk that grows is measured by the scroll latch: skipped just below the
 * view, it would count at its placeholder height, and the end would be scrolled short.
 * @param {Element} root @param {Element | null} previous
 */
function nextChunk(root, previous) {
  previous?.removeAttribute("data-open");
  const chunk = root.ownerDocument.createElement("div");
  chunk.className = "chunk";
  chunk.setAttribute("data-chrome", "wrap");
  chunk.setAttribute("data-open", "");
  root.appendChild(chunk);
  return chunk;
}

/**
 * Put `nodes` (top-level blocks, in order) into `root`, in chunks as the patcher makes them (the
 * last one open, as it would be after streaming).
 * @param {Element} root @param {Node[]} nodes
 */
export function chunked(root, nodes) {
  let chunk = null;
  let html = 0;
  let count = 0;
  for (const node of nodes) {
    if (isBlank(node)) continue;
    if (!chunk || html >= CHUNK_HTML || count >= CHUNK_BLOCKS) {
      chunk = nextChunk(root, chunk);
      html = 0;
      count = 0;
    }
    chunk.appendChild(node);
    html += sizeOf(node);
    count += 1;
  }
}

export class Patcher {
  /**
   * @param {Element} root the `[data-part="content"]` element
   * @param {{onFrozen?: (nodes: Node[]) => void, onBroken?: (error: unknown) => void,
   *          onNodes?: (nodes: Node[], block: number | null) => void}} [hooks]
   *   onFrozen: top-level blocks that just froze; onNodes: nodes just put in, and the
   *   top-level block they belong to (for labelling what they hold)
   */
  constructor(root, hooks = {}) {
    this.root = root;
    this.hooks = hooks;
    this.doc = root.ownerDocument;
    /** parses HTML into nodes: one per patcher, in the root's own document */
    this.template = this.doc.createElement("template");
    /** @type {Map<string, Node[][]>} frozen blocks parsed when they arrived, by their HTML */
    this.parsed = new Map();
    /** @type {Level[]} */
    this.levels = [{ parent: root, live: [], blocks: [] }];
    /** @type {Element | null} the chunk top-level blocks go into */
    this.chunk = null;
    /** what the current chunk holds: bytes of HTML, blocks */
    this.chunkHtml = 0;
    this.chunkBlocks = 0;
    /** bytes of HTML of the live top-level block, counted into its chunk when it freezes */
    this.liveSize = 0;
    /** @type {number[]} ids of the frozen top-level blocks, as levels[0].blocks */
    this.ids = [];
    /** @type {number | null} the live top-level block's id */
    this.liveId = null;
    this.splices = 0;
    /** @type {Array<Op | Refill | (() => void)>} operations and callbacks waiting for a frame */
    this.queue = [];
    this.scheduled = false;
    this.budget = FRAME_BUDGET;
    /** the timeout that holds back the next frame (0: none) */
    this.timer = 0;
    /** whether the frame being measured left operations queued */
    this.behind = false;
    /** when the frame being measured started (0: none is) */
    this.frameStart = 0;
    /** not before then (performance.now()) does the next frame take in operations */
    this.nextAt = 0;
    /** tells when a frame's rendering is over: its message is the first task after it */
    this.after = new MessageChannel();
    this.after.port1.onmessage = () => this.measured();
  }

  /** An animation frame: take in what its budget allows. */
  frame() {
    this.scheduled = false;
    const start = performance.now();
    const before = this.queue.length;
    this.drain(this.budget);
    if (this.queue.length !== before && !this.frameStart) {
      this.frameStart = start;
      this.behind = this.queue.length > 0;
      this.after.port2.postMessage(null);
    }
  }

  /** The frame that took in operations has been rendered: what did it cost? */
  measured() {
    const now = performance.now();
    const cost = now - this.frameStart;
    this.frameStart = 0;
    // Behind, the page takes more per frame (the display must catch up), unless the last frame
    // was long enough to be the new HTML's doing.
    if (cost > 2 * LATE_FRAME_MS) this.budget = Math.max(MIN_BUDGET, this.budget * 0.6);
    else if (this.behind) this.budget = Math.min(MAX_BUDGET, this.budget * 1.25);
    else if (cost > LATE_FRAME_MS) this.budget = Math.max(MIN_BUDGET, this.budget * 0.85);
    this.nextAt = now + Math.min(MAX_GAP_MS, cost * (1 / BUSY_SHARE - 1));
  }

  /** Ask for the frame that takes in the queue: the next one, or the first after `nextAt`. */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.nextAt - performance.now();
    if (wait > 4) {
      this.timer = setTimeout(() => {
        this.timer = 0;
        requestAnimationFrame(() => this.frame());
      }, wait);
    } else {
      requestAnimationFrame(() => this.frame());
    }
  }

  /**
   * Apply `ops` at the next animation frame (all that arrived since the last frame go in one
   * layout), then call `after`. In a hidden tab there are no frames: apply at once.
   * @param {Op[]} ops @param {() => void} [after]
   */
  enqueue(ops, after) {
    // Frozen blocks are parsed now, in the task that received them: the frame that puts them
    // in then only places nodes, so it is that much shorter (a frame is one task: over 50 ms
    // it holds up a key). Live parts are not: a later frame's usually replaces them unseen.
    for (const op of ops) {
      if (op.op !== "insert" && op.op !== "append") continue;
      for (const block of op.blocks ?? []) {
        const html = htmlOf(block);
        const list = this.parsed.get(html);
        const nodes = nodesOf(this.template, html);
        if (list) list.push(nodes);
        else this.parsed.set(html, [nodes]);
      }
    }
    this.queue.push(...ops);
    if (after) this.queue.push(after);
    if (this.doc.visibilityState === "hidden") {
      this.drain(Infinity);
    } else {
      this.schedule();
    }
  }

  /** @param {number} budget bytes of HTML to insert before yielding to the next frame */
  drain(budget) {
    try {
      this.drainSome(budget);
    } catch (error) {
      // The page and the server disagree about this answer's DOM (a bug): drop what is
      // queued and let the owner rebuild it from the turn's log.
      this.queue = [];
      this.parsed.clear();
      console.error("inkstream: could not apply an update", error);
      this.hooks.onBroken?.(error);
    }
  }

  /** @param {number} budget */
  drainSome(budget) {
    let used = 0;
    while (this.queue.length && used < budget) {
      const item = /** @type {Op | Refill | (() => void)} */ (this.queue.shift());
      if (typeof item === "function") {
        item();
        continue;
      }
      if (item.op === "refill") {
        used += this.refill(/** @type {Refill} */ (item), budget - used);
        continue;
      }
      const op = /** @type {Op} */ (item);
      const blocks = op.blocks ?? [];
      if ((op.op === "insert" || op.op === "append") && blocks.length > 1) {
        // Frozen blocks go in one by one, so a big batch spreads over frames.
        const [first, ...rest] = blocks;
        this.queue.unshift({ ...op, blocks: [first] }, { ...op, blocks: rest });
        continue;
      }
      if ((op.op === "insert" || op.op === "append") && blocks.length === 1 && htmlOf(blocks[0]).length > budget) {
        // One block bigger than a frame takes (a whole table or code block that arrived at
        // once): it goes in with its longest list of children left out, and those follow
        // over the next frames, before any later operation.
        const block = blocks[0];
        used += this.appendGradually(htmlOf(block), typeof block === "string" ? null : block.id);
        continue;
      }
      used += (op.html?.length ?? 0) + (op.text?.length ?? 0) + blocks.reduce((n, b) => n + htmlOf(b).length, 0);
      this.apply([op]);
    }
    if (this.queue.length) this.schedule();
  }

  /**
   * Append one frozen block whose longest child list (a table's rows, a code block's lines) is
   * queued to follow. @param {string} html @param {number | null} id its id, at the top level
   * @returns {number} bytes of HTML inserted now
   */
  appendGradually(html, id) {
    const nodes = this.take(html);
    let widest = null;
    for (const node of nodes) {
      if (!(node instanceof Element)) continue;
      const walker = this.doc.createTreeWalker(node, NodeFilter.SHOW_ELEMENT);
      for (let el = /** @type {Element | null} */ (node); el; el = /** @type {Element | null} */ (walker.nextNode())) {
        if (!widest || el.childNodes.length > widest.childNodes.length) widest = el;
      }
    }
    const held = widest ? Array.from(widest.childNodes) : [];
    for (const child of held) child.remove();
    if (this.levels.length === 1) this.placeTop(html.length);
    else this.liveSize += html.length;
    const level = this.level;
    const ref = level.live[0] ?? null;
    if (id !== null) stamp(nodes, id);
    this.hooks.onNodes?.(nodes, id ?? this.liveId);
    for (const node of nodes) level.parent.insertBefore(node, ref);
    level.blocks.push(nodes);
    if (id !== null) this.ids.push(id);
    const announce = this.levels.length === 1 ? nodes : null;
    this.queue.unshift({ op: "refill", parent: widest ?? level.parent, nodes: held, announce });
    return html.length - held.reduce((n, c) => n + sizeOf(c), 0);
  }

  /**
   * Put back children held by appendGradually(), as many as `budget` allows (at least one).
   * @param {Refill} item @param {number} budget @returns {number} bytes of HTML put back
   */
  refill(item, budget) {
    let used = 0;
    while (item.nodes.length && (used === 0 || used < budget)) {
      const node = /** @type {Node} */ (item.nodes.shift());
      used += sizeOf(node);
      item.parent.appendChild(node);
    }
    if (item.nodes.length) this.queue.unshift(item);
    else if (item.announce) this.hooks.onFrozen?.(item.announce);
    return used;
  }

  get level() {
    return this.levels[this.levels.length - 1];
  }

  /** A frozen block's nodes: parsed when it arrived, or now. @param {string} html */
  take(html) {
    const list = this.parsed.get(html);
    const nodes = list?.shift();
    if (list && !list.length) this.parsed.delete(html);
    return nodes ?? nodesOf(this.template, html);
  }

  /** @param {Op[]} ops */
  apply(ops) {
    for (const op of ops) {
      const handler = /** @type {any} */ (this)["op_" + op.op];
      if (typeof handler !== "function") throw new Error(`unknown render operation ${op.op}`);
      if (op.id !== undefined && op.op !== "insert" && op.op !== "splice") this.address(op.id);
      handler.call(this, op);
    }
  }

  /** An operation names the live block (a new id at the top level starts the next one).
   * @param {number} id */
  address(id) {
    if (this.levels.length > 1 ? id !== this.liveId : this.liveId !== null && id !== this.liveId) {
      throw new Error(`block ${id} is not the live block (${this.liveId})`);
    }
    this.liveId = id;
  }

  /** Forget everything (a retried turn starts over). */
  /** Start over, the content emptied (or, `keep`, left as shown until the caller replaces it). */
  reset({ keep = false } = {}) {
    this.queue = [];
    this.parsed.clear();
    clearTimeout(this.timer);
    this.timer = 0;
    this.scheduled = false;
    if (!keep) this.root.replaceChildren();
    this.levels = [{ parent: this.root, live: [], blocks: [] }];
    this.chunk = null;
    this.ids = [];
    this.liveId = null;
  }

  /**
   * A top-level block of `size` bytes of HTML goes in: into the current chunk, or, when that is
   * full and holds no live block, into a new one after it.
   * @param {number} size @param {boolean} [frozen] it goes in frozen (else: as the live block)
   */
  placeTop(size, frozen = true) {
    const level = this.levels[0];
    const full = this.chunkHtml >= CHUNK_HTML || this.chunkBlocks >= CHUNK_BLOCKS;
    // The chunk may also have gone with the content (a replay empties the element).
    if (!this.chunk || this.chunk.parentNode !== this.root || (full && !level.live.length)) {
      this.chunk = nextChunk(this.root, this.chunk);
      this.chunkHtml = 0;
      this.chunkBlocks = 0;
      level.parent = this.chunk;
    }
    if (frozen) {
      this.chunkHtml += size;
      this.chunkBlocks += 1;
    } else {
      this.liveSize = size;
    }
  }

  /** Frozen top-level blocks, before the live one. @param {Op} op */
  op_insert(op) {
    if (this.levels.length > 1) throw new Error("insert inside a container");
    const level = this.levels[0];
    for (const block of /** @type {Block[]} */ (op.blocks ?? [])) {
      this.placeTop(block.html.length);
      const ref = level.live[0] ?? null;
      const nodes = this.take(block.html);
      stamp(nodes, block.id);
      this.hooks.onNodes?.(nodes, block.id);
      for (const node of nodes) level.parent.insertBefore(node, ref);
      level.blocks.push(nodes);
      this.ids.push(block.id);
      this.hooks.onFrozen?.(nodes);
    }
  }

  /** Frozen children inside a container, before its live part. @param {Op} op */
  op_append(op) {
    if (this.levels.length === 1) throw new Error("append at the top level");
    const level = this.level;
    const ref = level.live[0] ?? null;
    for (const html of /** @type {string[]} */ (op.blocks ?? [])) {
      const nodes = this.take(html);
      for (const node of nodes) level.parent.insertBefore(node, ref);
      level.blocks.push(nodes);
      this.liveSize += html.length;
    }
  }

  /** @param {Op} op */
  op_live(op) {
    if (this.levels.length === 1) this.placeTop(op.html?.length ?? 0, false);
    const level = this.level;
    for (const node of level.live) node.parentNode?.removeChild(node);
    level.live = nodesOf(this.template, op.html ?? "");
    if (this.levels.length === 1) stamp(level.live, /** @type {number} */ (op.id));
    this.hooks.onNodes?.(level.live, this.liveId);
    for (const node of level.live) level.parent.appendChild(node);
  }

  /** Plain text typed at the end of a paragraph: extend the last text node. @param {Op} op */
  op_tail(op) {
    this.liveSize += op.text?.length ?? 0;
    let target = lastMeaningful(this.level.live);
    for (let i = 0; i < (op.depth ?? 0); i++) {
      if (!(target instanceof Element)) throw new Error("tail: depth goes below a text node");
      target = lastMeaningful(target.childNodes);
    }
    if (!(target instanceof Element)) throw new Error("tail: no element to append to");
    const last = target.lastChild;
    if (last && last.nodeType === Node.TEXT_NODE && last === lastMeaningful(target.childNodes)) {
      /** @type {Text} */ (last).appendData(op.text ?? "");
    } else {
      target.appendChild(this.doc.createTextNode(op.text ?? ""));
    }
  }

  /** The live nodes are final as they are. */
  op_freeze() {
    const level = this.level;
    const top = this.levels.length === 1;
    if (level.live.length) {
      level.blocks.push(level.live);
      if (top) {
        this.chunkHtml += this.liveSize;
        this.chunkBlocks += 1;
        this.ids.push(/** @type {number} */ (this.liveId));
        this.hooks.onFrozen?.(level.live);
      }
    }
    if (top) this.liveId = null;
    level.live = [];
  }

  /** @param {Op} op */
  op_open(op) {
    this.op_live(op);
    const container = this.level.live.find((n) => n instanceof Element);
    if (!(container instanceof Element)) throw new Error("open: no element");
    const slot = op.slot ? container.querySelector(op.slot) : container;
    if (!slot) throw new Error(`open: no ${op.slot}`);
    this.levels.push({ parent: slot, live: [], blocks: [] });
  }

  /** @param {Op} op */
  op_reopen(op) {
    this.levels.pop();
    this.op_open(op);
  }

  op_close() {
    this.levels.pop();
    this.op_freeze();
  }

  /** Leave the container: it stays, as the live part of the level outside. */
  op_leave() {
    this.levels.pop();
  }

  /** @param {Op} op */
  op_replace(op) {
    this.levels.pop();
    this.op_live(op);
    this.op_freeze();
  }

  /** An edit changed the text after block `op.after` (null: all of it): every top-level block
   * after it goes, the live one too, and the page is back at the top level. @param {Op} op */
  op_truncate(op) {
    const level = this.levels[0];
    const keep = op.after == null ? 0 : this.ids.indexOf(op.after) + 1;
    if (op.after != null && keep === 0) throw new Error(`truncate: no block ${op.after}`);
    for (const block of level.blocks.slice(keep)) for (const node of block) node.parentNode?.removeChild(node);
    for (const node of level.live) node.parentNode?.removeChild(node);
    level.blocks.length = keep;
    this.ids.length = keep;
    level.live = [];
    this.levels = [level];
    this.liveId = null;
    // Queued children of blocks that went go nowhere; chunks left empty go too, and the next
    // block starts a chunk of its own.
    this.queue = this.queue.filter((item) => typeof item === "function" || !("nodes" in item) || item.parent.isConnected);
    for (const chunk of Array.from(this.root.children)) if (!chunk.childNodes.length) chunk.remove();
    this.chunk = this.root.lastElementChild;
    if (this.chunk) this.chunk.removeAttribute("data-open");
    this.chunkHtml = CHUNK_HTML;
  }

  /** Frozen blocks `remove` go, `blocks` come before `before` (the final reconcile, an edit).
   * @param {Op} op */
  op_splice(op) {
    const level = this.levels[0];
    for (const id of op.remove ?? []) {
      const index = this.ids.indexOf(id);
      if (index < 0) throw new Error(`splice: no block ${id}`);
      for (const node of level.blocks[index]) node.parentNode?.removeChild(node);
      level.blocks.splice(index, 1);
      this.ids.splice(index, 1);
    }
    const at = op.before == null ? this.ids.length : this.ids.indexOf(op.before);
    if (at < 0) throw new Error(`splice: no block ${op.before}`);
    const next = level.blocks.slice(at).find((block) => block.length);
    const ref = next ? next[0] : level.live[0] ?? null;
    const blocks = /** @type {Block[]} */ (op.blocks ?? []);
    const added = blocks.map((block) => {
      const nodes = this.take(block.html);
      stamp(nodes, block.id);
      this.hooks.onNodes?.(nodes, block.id);
      // Before the block that follows, in its chunk; at the end, in the last chunk.
      if (!ref) this.placeTop(block.html.length);
      const parent = ref?.parentNode ?? level.parent;
      for (const node of nodes) parent.insertBefore(node, ref);
      return nodes;
    });
    level.blocks.splice(at, 0, ...added);
    this.ids.splice(at, 0, ...blocks.map((block) => block.id));
    this.splices += 1;
  }
}
