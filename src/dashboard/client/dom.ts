// The page's whole templating: h(tag, attributes, ...children) builds elements with the DOM API. Text always goes
// in as text nodes, never as markup, so an app name or a reason from the API cannot become HTML; listeners are
// attached with addEventListener, never as inline attributes, which the page's CSP forbids anyway.
export type Child = Node | string | number | null | undefined | false | readonly Child[];
export type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') {
      if (!name.startsWith('on')) throw new Error(`h(): a listener needs an on… name, got '${name}'`);
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else {
      // A style attribute would be refused by the CSP (style-src 'self'): classes only.
      if (name === 'style') throw new Error('h(): use a class, not a style attribute');
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? (child as Node) : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
