// @ts-check
// The polite live region: short lines a screen reader says once. An answer is not read out
// as it streams (the transcript is aria-live="off"): each block that freezes is announced
// briefly — a paragraph by its opening words, a code block, table or list by what it is.

const BRIEF = 100; // characters of a paragraph or heading that are read
const KEEP = 20; // lines kept in the region

/** @param {string} text */
function brief(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= BRIEF) return flat;
  const cut = flat.lastIndexOf(" ", BRIEF);
  return flat.slice(0, cut > BRIEF / 2 ? cut : BRIEF) + "…";
}

/** @param {number} count @param {string} one @param {string} many */
function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * What a frozen block is, in a few words ("" for nothing worth saying).
 * @param {Element} block
 * @returns {string}
 */
export function describe(block) {
  const tag = block.tagName.toLowerCase();
  if (block.classList.contains("codeblock")) {
    const lang = block.querySelector(".codeblock-lang")?.textContent?.trim() || "text";
    const lines = (block.querySelector("code")?.textContent ?? "").replace(/\n$/, "").split("\n").length;
    return `Code block, ${lang}, ${plural(lines, "line", "lines")}.`;
  }
  if (block.classList.contains("table-scroll") || tag === "table") {
    const table = tag === "table" ? block : block.querySelector("table");
    const columns = table?.querySelectorAll("thead th").length ?? 0;
    const rows = table?.querySelectorAll("tbody tr").length ?? 0;
    return `Table, ${plural(columns, "column", "columns")}, ${plural(rows, "row", "rows")}.`;
  }
  if (tag === "ul" || tag === "ol") {
    return `List, ${plural(block.querySelectorAll(":scope > li").length, "item", "items")}.`;
  }
  if (tag === "blockquote") return `Quote: ${brief(block.textContent ?? "")}`;
  if (/^h[1-6]$/.test(tag)) return `Heading: ${brief(block.textContent ?? "")}`;
  if (tag === "pre") return "Code block.";
  if (tag === "hr") return "";
  return brief(block.textContent ?? "");
}

export class Announcer {
  /** @param {HTMLElement} region an aria-live="polite" element */
  constructor(region) {
    this.region = region;
  }

  /** @param {string} text */
  say(text) {
    if (!text) return;
    const line = this.region.ownerDocument.createElement("p");
    line.textContent = text;
    this.region.appendChild(line);
    while (this.region.childElementCount > KEEP) this.region.firstElementChild?.remove();
  }

  /** The blocks that just froze, briefly. @param {Node[]} nodes */
  frozen(nodes) {
    for (const node of nodes) if (node instanceof Element) this.say(describe(node));
  }
}
