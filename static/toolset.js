// @ts-check
// Which tools the model may call, as the server says (`GET /api/tools`): a short line in the
// top bar ("Tools: calculator, current_time, …"), each name's description as its title, and
// any MCP server that is down named as such.

export class Toolset {
  /** @param {HTMLElement} el @param {string} base where the server is ("": here) */
  constructor(el, base) {
    this.el = el;
    this.base = base;
  }

  async load() {
    /** @type {{tools: Array<{name: string, description: string, source: string}>, servers: Array<{name: string, state: string}>}} */
    let data;
    try {
      const response = await fetch(`${this.base}/api/tools`, { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch {
      this.el.hidden = true; // the chat works without the list; the calls still show
      return;
    }
    const doc = this.el.ownerDocument;
    const parts = [];
    for (const tool of data.tools) {
      const name = doc.createElement("span");
      name.className = "tool-on";
      name.dataset.tool = tool.name;
      name.textContent = tool.name;
      name.title = `${tool.description}${tool.source === "builtin" ? "" : ` (${tool.source})`}`;
      parts.push(name);
    }
    for (const server of data.servers.filter((s) => s.state !== "up")) {
      const down = doc.createElement("span");
      down.className = "tool-down";
      down.textContent = `${server.name} (${server.state})`;
      parts.push(down);
    }
    const label = doc.createElement("span");
    label.textContent = parts.length ? "Tools: " : "Tools: none";
    this.el.replaceChildren(label, ...parts.flatMap((p, i) => (i ? [", ", p] : [p])));
    this.el.hidden = false;
  }
}
